// Register map from the target description: target.xml and the files it xi:includes. Numbering is
// the XML's (a `regnum` attribute resets the running count), never a hard-coded table: QEMU's
// system-register numbers differ between CPU models and versions.
import type { RegisterInfo, RegisterMap } from './types';

/** Attributes of every `<tag ...>` occurrence, in document order (the XML is machine-written and small). */
function* tags(xml: string): Generator<{ name: string; attrs: Map<string, string> }> {
  const tagRe = /<([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*\/?>/g;
  const attrRe = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  for (const m of xml.matchAll(tagRe)) {
    const attrs = new Map<string, string>();
    for (const a of m[2].matchAll(attrRe)) attrs.set(a[1], decodeEntities(a[2] ?? a[3] ?? ''));
    yield { name: m[1], attrs };
  }
}

function decodeEntities(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) =>
    e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'amp' ? '&' : e === 'quot' ? '"' : "'",
  );
}

/** The annex names a document includes (`<xi:include href="..."/>`). */
export function includesOf(xml: string): string[] {
  const out: string[] = [];
  for (const t of tags(xml))
    if (t.name === 'xi:include' || t.name === 'include') {
      const href = t.attrs.get('href');
      if (href) out.push(href);
    }
  return out;
}

/**
 * Builds the register map. `documents` holds every fetched annex by name; includes are expanded in
 * place, so numbering follows the order gdb would use.
 */
export function parseTargetDescription(
  documents: ReadonlyMap<string, string>,
  root = 'target.xml',
): RegisterMap {
  const all: RegisterInfo[] = [];
  let next = 0;
  const visit = (annex: string, depth: number, inheritedFeature: string) => {
    const xml = documents.get(annex);
    if (xml === undefined) throw new Error(`target description ${annex} was not fetched`);
    if (depth > 8) throw new Error(`target description include depth exceeded at ${annex}`);
    let feature = inheritedFeature;
    for (const t of tags(xml)) {
      if (t.name === 'feature') feature = t.attrs.get('name') ?? feature;
      else if (t.name === 'xi:include' || t.name === 'include') {
        const href = t.attrs.get('href');
        if (href) visit(href, depth + 1, feature);
      } else if (t.name === 'reg') {
        const name = t.attrs.get('name');
        const bitsize = Number(t.attrs.get('bitsize'));
        if (!name || !Number.isFinite(bitsize)) continue;
        const regnumAttr = t.attrs.get('regnum');
        const regnum = regnumAttr !== undefined ? Number(regnumAttr) : next;
        next = regnum + 1;
        const group = t.attrs.get('group');
        all.push({
          name,
          regnum,
          bitsize,
          type: t.attrs.get('type') ?? 'int',
          feature,
          ...(group ? { group } : {}),
        });
      }
    }
  };
  visit(root, 0, '');
  return makeRegisterMap(all, documents);
}

export function makeRegisterMap(
  all: readonly RegisterInfo[],
  documents: ReadonlyMap<string, string> = new Map(),
): RegisterMap {
  const byName = new Map<string, RegisterInfo>();
  const byLower = new Map<string, RegisterInfo>();
  const byNumber = new Map<number, RegisterInfo>();
  for (const r of all) {
    if (!byName.has(r.name)) byName.set(r.name, r);
    if (!byLower.has(r.name.toLowerCase())) byLower.set(r.name.toLowerCase(), r);
    byNumber.set(r.regnum, r);
  }
  return {
    all,
    byName,
    byNumber,
    documents,
    get(nameOrNumber: string | number): RegisterInfo | undefined {
      if (typeof nameOrNumber === 'number') return byNumber.get(nameOrNumber);
      return byName.get(nameOrNumber) ?? byLower.get(nameOrNumber.toLowerCase());
    },
  };
}
