/**
 * lifeboat.yaml's text as a YAML document, with bounds a hostile file cannot get past: the daemon parses
 * it on its main thread (on SIGHUP too), so the parse must stay linear in the text and shallow.
 *
 * - Repeated keys are found with one set per mapping, not with yaml's `uniqueKeys`, which compares each
 *   key with every earlier one of its mapping (40,000 groups took ~20 s).
 * - Nesting is capped at `maxDepth` while the parser reads: yaml's parser and composer cost ~1 KB of memory
 *   and a stack frame per level, so 1 MiB of `[` took ~10 s and ~1 GB before failing with a stack overflow.
 *
 * The first problem is reported as a CONFIG error `FILE:LINE:COL: not valid YAML: problem`.
 */
import { Composer, LineCounter, Lexer, Parser, YAMLParseError, isMap, isScalar, isSeq, type Document } from 'yaml';
import { LifeboatError } from '../core/index.ts';

/** The deepest nesting of collections read. A configuration nests ~8 deep; yaml's own limit (a stack overflow) is near 780. */
export const maxDepth = 100;

function fail(file: string, lines: LineCounter, offset: number, problem: string): never {
  const pos = lines.linePos(offset);
  throw new LifeboatError('CONFIG', `${file}:${pos.line}:${pos.col}: not valid YAML: ${problem}`, { context: { file, line: pos.line, column: pos.col } });
}

/**
 * The offset and text of the first key repeated in a mapping, if any. Keys are compared as yaml's
 * `uniqueKeys: true` does (scalars by value). Walked without recursion.
 */
function firstDuplicateKey(doc: Document): { offset: number; key: string } | undefined {
  let first: { offset: number; key: string } | undefined;
  const todo: unknown[] = [doc.contents];
  while (todo.length) {
    const node = todo.pop();
    if (isSeq(node)) for (const item of node.items) todo.push(item);
    else if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const { key, value } of node.items) {
        todo.push(key, value);
        if (!isScalar(key)) continue;
        const offset = key.range?.[0];
        if (seen.has(key.value) && offset !== undefined && (first === undefined || offset < first.offset)) first = { offset, key: String(key.value).slice(0, 80) };
        seen.add(key.value);
      }
    }
  }
  return first;
}

/** Parses `text` (the file `file`) as one YAML document, as yaml's parseDocument does but within the bounds above. */
export function readDocument(text: string, file: string): { doc: Document.Parsed; lines: LineCounter } {
  const lines = new LineCounter();
  // yaml's parseDocument, with the parser driven here so its depth is checked after each token.
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0);
  function* tokens(): ReturnType<Parser['end']> {
    for (const lexeme of new Lexer().lex(text)) {
      yield* parser.next(lexeme);
      if (parser.stack.length > maxDepth) fail(file, lines, parser.offset, `nested more than ${maxDepth} deep`);
    }
    yield* parser.end();
  }
  let doc: Document.Parsed | undefined;
  for (const d of new Composer({ uniqueKeys: false }).compose(tokens(), true, text.length)) {
    if (doc === undefined) doc = d;
    else {
      doc.errors.push(new YAMLParseError([d.range[0], d.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; please use YAML.parseAllDocuments()'));
      break;
    }
  }
  // compose(..., forceDoc: true) always gives a document.
  if (doc === undefined) throw new Error('yaml gave no document');
  // The first problem in the text, a repeated key or a syntax error, whichever comes first.
  const dup = firstDuplicateKey(doc);
  const syntax = doc.errors[0];
  if (dup !== undefined && (syntax === undefined || dup.offset < syntax.pos[0])) fail(file, lines, dup.offset, `Map keys must be unique ("${dup.key}" is given twice)`);
  if (syntax !== undefined) fail(file, lines, syntax.pos[0], syntax.message.split('\n')[0]!);
  return { doc, lines };
}
