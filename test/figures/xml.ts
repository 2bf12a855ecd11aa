/**
 * A small strict XML parser for tests: enough of XML 1.0 to check that generated SVG is well-formed (balanced
 * and correctly nested tags, quoted and unique attributes, valid entity and character references, nothing
 * after the root) and to query the element tree.
 */

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Decoded character data directly inside this element. */
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;

function decodeEntities(s: string, where: number): string {
  return s.replace(/&([^;&\s]*);?/g, (m, body: string) => {
    if (!m.endsWith(';')) throw new Error(`unterminated entity reference "${m}" near offset ${where}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (body in named) return named[body]!;
    const num = /^#(x[0-9a-fA-F]+|[0-9]+)$/.exec(body);
    if (num) return String.fromCodePoint(body[1] === 'x' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10));
    throw new Error(`unknown entity "&${body};" near offset ${where}`);
  });
}

/** Parses `src` and returns the root element; throws on any well-formedness error. */
export function parseXml(src: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const skipMisc = (): void => {
    for (;;) {
      const ws = /^\s*/.exec(src.slice(i))![0].length;
      i += ws;
      if (src.startsWith('<?', i)) {
        const end = src.indexOf('?>', i);
        if (end < 0) throw new Error('unterminated processing instruction');
        i = end + 2;
      } else if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i);
        if (end < 0) throw new Error('unterminated comment');
        i = end + 3;
      } else if (src.startsWith('<!DOCTYPE', i)) {
        const end = src.indexOf('>', i);
        i = end + 1;
      } else return;
    }
  };
  skipMisc();
  while (i < src.length) {
    if (stack.length === 0 && root !== null) {
      skipMisc();
      if (i < src.length) throw new Error(`content after the root element at offset ${i}`);
      break;
    }
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
      continue;
    }
    if (src.startsWith('</', i)) {
      const m = NAME.exec(src.slice(i + 2));
      if (!m) throw new Error(`bad closing tag at offset ${i}`);
      const top = stack.pop();
      if (top === undefined || top.name !== m[0]) throw new Error(`closing tag </${m[0]}> does not match <${top?.name}> at offset ${i}`);
      i += 2 + m[0].length;
      i += /^\s*/.exec(src.slice(i))![0].length;
      if (src[i] !== '>') throw new Error(`bad closing tag </${m[0]}> at offset ${i}`);
      i++;
      continue;
    }
    if (src[i] === '<') {
      const m = NAME.exec(src.slice(i + 1));
      if (!m) throw new Error(`bad tag at offset ${i}`);
      const el: XmlElement = { name: m[0], attrs: {}, children: [], text: '' };
      i += 1 + m[0].length;
      for (;;) {
        const ws = /^\s*/.exec(src.slice(i))![0].length;
        i += ws;
        if (src.startsWith('/>', i)) {
          i += 2;
          if (stack.length === 0) {
            if (root !== null) throw new Error('two root elements');
            root = el;
          } else stack[stack.length - 1]!.children.push(el);
          break;
        }
        if (src[i] === '>') {
          i++;
          if (stack.length === 0) {
            if (root !== null) throw new Error('two root elements');
            root = el;
          } else stack[stack.length - 1]!.children.push(el);
          stack.push(el);
          break;
        }
        if (ws === 0) throw new Error(`attributes of <${el.name}> must be separated by white space (offset ${i})`);
        const a = /^([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(src.slice(i));
        if (!a) throw new Error(`bad attribute in <${el.name}> at offset ${i}: ${src.slice(i, i + 40)}`);
        if (a[1]! in el.attrs) throw new Error(`duplicate attribute ${a[1]} in <${el.name}>`);
        el.attrs[a[1]!] = decodeEntities(a[3] ?? a[4] ?? '', i);
        i += a[0].length;
      }
      continue;
    }
    const next = src.indexOf('<', i);
    const end = next < 0 ? src.length : next;
    const text = src.slice(i, end);
    if (stack.length === 0) {
      if (text.trim() !== '') throw new Error(`text outside the root element at offset ${i}`);
    } else stack[stack.length - 1]!.text += decodeEntities(text, i);
    i = end;
  }
  if (stack.length > 0) throw new Error(`unclosed element <${stack[stack.length - 1]!.name}>`);
  if (root === null) throw new Error('no root element');
  return root;
}

/** Every element of the tree (depth-first, document order). */
export function allElements(el: XmlElement): XmlElement[] {
  return [el, ...el.children.flatMap(allElements)];
}

/** All text of `el` and its descendants, one string per element that has text. */
export function allText(el: XmlElement): string[] {
  return allElements(el).map((e) => e.text.trim()).filter((t) => t !== '');
}
