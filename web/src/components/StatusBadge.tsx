// A status in words (the colour and the shape only repeat it).
import type { IntegrationStatus } from '../types';

export const STATUS_TEXT: Record<IntegrationStatus, string> = {
  connected: 'Connected',
  unauthorized: 'Unauthorized',
  disconnected: 'Disconnected',
  no_status: 'No status',
};

const TONE: Record<IntegrationStatus, Tone> = {
  connected: 'ok',
  unauthorized: 'bad',
  disconnected: 'warn',
  no_status: 'none',
};

export type Tone = 'ok' | 'warn' | 'bad' | 'none';

export function Badge({ tone, text, testid }: { tone: Tone; text: string; testid?: string }) {
  return (
    <span class={`badge badge-${tone}`} data-testid={testid}>
      {text}
    </span>
  );
}

export function StatusBadge({ status, testid }: { status: IntegrationStatus; testid?: string }) {
  const known = status in STATUS_TEXT ? status : 'no_status';
  return <Badge tone={TONE[known]} text={STATUS_TEXT[known]} testid={testid} />;
}
