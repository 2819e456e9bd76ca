// The JSON shapes of docs/api/openapi.yaml that the console reads.
import type { Id } from './json';

export type Role = 'viewer' | 'operator' | 'admin';

export interface SessionInfo {
  name: string;
  role: Role;
  csrf_token: string;
  idle_timeout_s: number;
  expires_at: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type IntegrationName = 'space' | 'connect' | 'enrollment';
export type IntegrationStatus = 'connected' | 'unauthorized' | 'disconnected' | 'no_status';

export interface Integration {
  name: IntegrationName;
  description: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  status: IntegrationStatus;
  last_error: string;
  last_error_at: string | null;
  status_changed_at: string | null;
  updated_at: string | null;
  details?: Record<string, unknown> | null;
}

export interface Door {
  id: number;
  external_id: string;
  name: string;
  source: 'local' | 'ship';
}

export type DeviceStatus = 'created' | 'commissioned' | 'disabled' | 'decommissioned';

export interface Device {
  id: number;
  name: string;
  door_id: number | null;
  door?: string | null;
  status: DeviceStatus;
  online: boolean;
  last_seen_at: string | null;
  firmware: string;
  certificate: { serial: string; not_after: string | null; revoked: boolean } | null;
  created_at: string;
  updated_at: string;
}

export interface QrPayload {
  v: number;
  server: string;
  port: number;
  ca_sha256: string;
  code: string;
}

export interface CommissioningCode {
  code: string;
  expires_at: string;
  qr_payload: QrPayload;
}

export interface DeviceCreated {
  device: Device;
  commissioning: CommissioningCode;
}

export interface DeviceCode extends CommissioningCode {
  device: string;
}

export const DEVICE_COMMANDS = [
  'reboot',
  'recommission',
  'decommission',
  'config',
  'open',
  'update',
  'identify',
  'sync_time',
] as const;
export type DeviceCommand = (typeof DEVICE_COMMANDS)[number];

export interface DeviceCommandQueued {
  id: number;
  device: string;
  command: string;
  payload: unknown;
  expires_at: string | null;
}

export interface User {
  id: number;
  external_id: string;
  first_name: string;
  last_name: string;
  active: boolean;
  banned: boolean;
  valid_from: string | null;
  valid_until: string | null;
  source: 'local' | 'ship';
  created_at: string;
  updated_at: string;
}

export interface UserDetail extends User {
  groups: string[];
  faces?: number;
}

export interface Quality {
  detection_score: number;
  interocular_px: number;
  sharpness: number;
  yaw_deg: number;
  pitch_deg: number;
  roll_deg: number;
  brightness: number;
  brightness_p5: number;
  brightness_p95: number;
  saturated_fraction: number;
}

export interface Template {
  id: Id;
  user: string;
  source: 'import' | 'enrollment' | 'admin';
  model_version: string;
  quality: Partial<Quality>;
  created_at: string;
  key_id: number;
  photo: boolean;
}

export interface FaceEnrolled {
  face: Template;
  quality: Quality;
  duplicate_of: string | null;
  timings_ms: { queue: number; total: number };
}

export interface UserErased {
  erased: boolean;
  external_id: string;
  templates_deleted: number;
  photos_deleted: number;
  wal_truncated: boolean;
}

export interface AccessEvent {
  id: Id;
  time: string;
  device_id: number | null;
  door_id: number | null;
  user: string | null;
  decision: 'grant' | 'deny';
  reason: string;
  distance: number | null;
  latency_ms: number;
  request_id: string;
  repeat: boolean;
  details: Record<string, unknown>;
}

export interface SystemInfo {
  version: string;
  uptime_s: number;
  time: string;
  counts: Partial<Record<'users' | 'templates' | 'photos' | 'events' | 'doors' | 'devices' | 'devices_online', number>>;
  model: { version: string; face_work: boolean; security_level: string; threshold: number };
  index: {
    templates?: number;
    identities?: number;
    storage?: string;
    simd?: string;
    load_seconds?: number;
    stranger_match_probability?: number;
  } | null;
}

export interface Readiness {
  status: 'ready' | 'not_ready' | 'draining';
  checks: Record<string, { ready: boolean; detail: string }>;
  warnings: { name: string; message: string }[];
}
