// A QR code drawn as SVG from qrcode-generator's module matrix: no inline styles, no
// innerHTML, so it stays inside the page's Content-Security-Policy.
import qrcode from 'qrcode-generator';
import { useMemo } from 'preact/hooks';

export interface QrCodeProps {
  text: string;
  label: string;
  size?: number;
  testid?: string;
}

// UTF-8 bytes as a "binary string": qrcode-generator's byte mode takes one char per byte.
function utf8(text: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(text)) out += String.fromCharCode(b);
  return out;
}

export function QrCode({ text, label, size = 240, testid }: QrCodeProps) {
  const { n, d } = useMemo(() => {
    const qr = qrcode(0, 'M');
    qr.addData(utf8(text), 'Byte');
    qr.make();
    const count = qr.getModuleCount();
    let path = '';
    for (let r = 0; r < count; r++) {
      for (let c = 0; c < count; c++) {
        if (qr.isDark(r, c)) path += `M${c + 4} ${r + 4}h1v1h-1z`;
      }
    }
    return { n: count, d: path };
  }, [text]);
  const view = n + 8;
  return (
    <svg
      class="qr"
      role="img"
      aria-label={label}
      width={size}
      height={size}
      viewBox={`0 0 ${view} ${view}`}
      shape-rendering="crispEdges"
      data-testid={testid}
      data-qr-text={text}
    >
      <rect x="0" y="0" width={view} height={view} fill="#ffffff" />
      <path d={d} fill="#000000" />
    </svg>
  );
}
