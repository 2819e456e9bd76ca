// A table of records: scrolls sideways on narrow screens, a caption for screen readers, a
// header row of column names; the rows are its children.
import type { ComponentChildren } from 'preact';

export interface Column {
  label: string;
  // Right-aligned (numbers).
  numeric?: boolean;
  // Read by screen readers only (the actions column).
  hidden?: boolean;
}

// The last column of a table whose rows have buttons.
export const ACTIONS_COLUMN: Column = { label: 'Actions', hidden: true };

export interface DataTableProps {
  testid: string;
  caption: string;
  columns: (string | Column)[];
  children: ComponentChildren;
}

export function DataTable({ testid, caption, columns, children }: DataTableProps) {
  return (
    <div class="table-wrap">
      <table class="table" data-testid={testid}>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => {
              const col = typeof c === 'string' ? { label: c } : c;
              return (
                <th key={col.label} scope="col" class={col.numeric ? 'num' : undefined}>
                  {col.hidden ? <span class="visually-hidden">{col.label}</span> : col.label}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
