// WCAG 2 contrast from computed styles (#14 item 13): the UI test collects each text element's
// computed colour and the background colours beneath it inside the webview, and this module (pure,
// unit-tested) composites them and computes the contrast ratio. Nothing here knows the panel's palette.

export type Rgba = [number, number, number, number];

/** A computed CSS colour as Chromium writes it: `rgb(r, g, b)`, `rgba(r, g, b, a)`, `color(srgb r g b / a)`. */
export function parseCssColor(s: string): Rgba | undefined {
  const t = s.trim();
  let m = /^rgba?\(\s*([\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?\s*\)$/.exec(t);
  if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), alpha(m[4])];
  m = /^color\(srgb\s+([\d.e-]+)\s+([\d.e-]+)\s+([\d.e-]+)(?:\s*\/\s*([\d.]+%?))?\s*\)$/.exec(t);
  if (m) return [Number(m[1]) * 255, Number(m[2]) * 255, Number(m[3]) * 255, alpha(m[4])];
  if (t === 'transparent') return [0, 0, 0, 0];
  return undefined;
}

function alpha(a: string | undefined): number {
  if (a === undefined) return 1;
  return a.endsWith('%') ? Number(a.slice(0, -1)) / 100 : Number(a);
}

/** `top` drawn over an opaque `bottom`. */
export function over(top: Rgba, bottom: Rgba): Rgba {
  const a = top[3];
  return [
    top[0] * a + bottom[0] * (1 - a),
    top[1] * a + bottom[1] * (1 - a),
    top[2] * a + bottom[2] * (1 - a),
    1,
  ];
}

/** WCAG 2 relative luminance of an opaque sRGB colour (0..255 channels). */
export function luminance([r, g, b]: Rgba): number {
  const lin = (c: number): number => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

export function contrastRatio(a: Rgba, b: Rgba): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

/** What the page reports for one element with text of its own. */
export interface TextSample {
  /** A short description: tag, class, the start of the text. */
  what: string;
  color: string;
  /** Computed background colours from the element up to the root (innermost first). */
  backgrounds: string[];
}

export interface ContrastResult extends TextSample {
  ratio: number;
}

/**
 * The contrast of each sample: the backgrounds are composited from the root down (the root over
 * `canvas`, the page's own backdrop when everything is transparent), then the text colour over that.
 */
export function contrastOf(sample: TextSample, canvas: Rgba = [255, 255, 255, 1]): ContrastResult {
  let bg = canvas;
  for (const b of [...sample.backgrounds].reverse()) {
    const c = parseCssColor(b);
    if (c && c[3] > 0) bg = over(c, bg);
  }
  const fg = parseCssColor(sample.color);
  if (!fg) throw new Error(`unparsed colour ${sample.color} (${sample.what})`);
  return { ...sample, ratio: contrastRatio(over(fg, bg), bg) };
}

/** WCAG 2.x AA for normal text. */
export const AA_NORMAL_TEXT = 4.5;
