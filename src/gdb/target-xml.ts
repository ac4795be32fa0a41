// Register map from the target description: target.xml and the files it xi:includes. Numbering is
// the XML's (a `regnum` attribute resets the running count), never a hard-coded table: QEMU's
// system-register numbers differ between CPU models and versions.
import { GdbTargetDescriptionError } from './errors';
import type { RegisterInfo, RegisterMap } from './types';

/**
 * Attributes of every `<feature>`, `<xi:include>` (or `<include>`) and `<reg>` tag, in document order:
 * the only tags the register map reads (the XML is machine-written and small; the others, QEMU's
 * vector, union and field types, are not looked at).
 */
function tags(xml: string): { name: string; attrs: Map<string, string> }[] {
  const tagRe = /<(feature|xi:include|include|reg)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*\/?>/g;
  const attrRe = /([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  const out: { name: string; attrs: Map<string, string> }[] = [];
  for (let m = tagRe.exec(xml); m; m = tagRe.exec(xml)) {
    const attrs = new Map<string, string>();
    attrRe.lastIndex = 0;
    for (let a = attrRe.exec(m[2]); a; a = attrRe.exec(m[2]))
      attrs.set(a[1], decodeEntities(a[2] ?? a[3] ?? ''));
    out.push({ name: m[1], attrs });
  }
  return out;
}

function decodeEntities(s: string): string {
  // Most values have no entity: skip the replace (hundreds of attributes in a system-register file).
  if (!s.includes('&')) return s;
  return s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) =>
    e === 'lt' ? '<' : e === 'gt' ? '>' : e === 'amp' ? '&' : e === 'quot' ? '"' : "'",
  );
}

/** The annex names a document includes (`<xi:include href="..."/>`). */
export function includesOf(xml: string): string[] {
  const out: string[] = [];
  // Most documents include nothing (QEMU's register files): not tokenized twice then.
  if (!xml.includes('include')) return out;
  for (const t of tags(xml))
    if (t.name === 'xi:include' || t.name === 'include') {
      const href = t.attrs.get('href');
      if (href) out.push(href);
    }
  return out;
}

/**
 * Builds the register map. `documents` holds every fetched annex by name; an include is expanded in
 * place (numbering follows the order gdb would use) the first time it is referenced, and ignored after
 * that: expanding each reference made a 20-wide, 7-deep include tree cost 20^7 visits (minutes and
 * gigabytes), and a second copy of a feature would only add duplicate names. Cycles end the same way.
 */
export function parseTargetDescription(
  documents: ReadonlyMap<string, string>,
  root = 'target.xml',
): RegisterMap {
  const all: RegisterInfo[] = [];
  const expanded = new Set<string>();
  let next = 0;
  const visit = (annex: string, inheritedFeature: string) => {
    if (expanded.has(annex)) return;
    expanded.add(annex);
    const xml = documents.get(annex);
    if (xml === undefined) throw new GdbTargetDescriptionError(`target description ${annex} was not fetched`);
    let feature = inheritedFeature;
    for (const t of tags(xml)) {
      if (t.name === 'feature') feature = t.attrs.get('name') ?? feature;
      else if (t.name === 'xi:include' || t.name === 'include') {
        const href = t.attrs.get('href');
        if (href) visit(href, feature);
      } else if (t.name === 'reg') {
        const name = t.attrs.get('name');
        const bitsize = Number(t.attrs.get('bitsize'));
        // A register's replies are checked against its size: a size that is not a positive integer
        // would make every read of it fail, so such an entry is skipped like a nameless one.
        if (!name || !Number.isSafeInteger(bitsize) || bitsize <= 0) continue;
        const regnumAttr = t.attrs.get('regnum');
        const regnum = regnumAttr !== undefined ? Number(regnumAttr) : next;
        if (!Number.isSafeInteger(regnum) || regnum < 0) continue;
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
  visit(root, '');
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
