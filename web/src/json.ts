// JSON.parse that keeps large integers exact.
//
// Face template ids are random 63-bit integers (openapi: "keep it as a string or a 64-bit
// integer, not a double"): JSON.parse would round them to the nearest double and a later
// DELETE /api/v1/faces/{id} would name another (or no) template. Every integer outside
// Number's safe range is turned into a string before parsing; everything else is unchanged.
export function parseJson(text: string): unknown {
  const n = text.length;
  let out = '';
  let copied = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else {
          i++;
          if (d === 0x22) break;
        }
      }
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < n && isNumberChar(text.charCodeAt(i))) i++;
      const token = text.slice(start, i);
      if (/^-?\d{16,}$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += text.slice(copied, start) + '"' + token + '"';
        copied = i;
      }
    } else {
      i++;
    }
  }
  return JSON.parse(copied === 0 ? text : out + text.slice(copied));
}

function isNumberChar(c: number): boolean {
  // 0-9 . e E + -
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

// Ids as the API gives them: a number, or a string when it does not fit a double.
export type Id = number | string;

// Compares two decimal ids exactly (event ids, template ids); negative when a < b.
export function compareIds(a: Id, b: Id): number {
  const x = BigInt(String(a));
  const y = BigInt(String(b));
  return x < y ? -1 : x > y ? 1 : 0;
}
