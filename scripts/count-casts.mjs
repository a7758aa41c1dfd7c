#!/usr/bin/env node
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
/**
 * Counts the type casts in src/ (`x as T` and `<T>x`, not `as const`), per file: what is stored or received
 * is parsed rather than cast, and the casts left each say why where it is not obvious.
 *
 *   node scripts/count-casts.mjs [N] [v]   the N files with most casts (v: each cast with its line)
 */
import ts from 'typescript';

const files = [];
const walk = (d) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
};
walk('src');
let total = 0;
const per = [];
for (const f of files) {
  const sf = ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.Latest, true);
  let n = 0;
  const lines = [];
  const visit = (node) => {
    if (
      (ts.isAsExpression(node) || ts.isTypeAssertionExpression(node)) &&
      !(ts.isTypeReferenceNode(node.type) && node.type.getText() === 'const')
    ) {
      n++;
      lines.push(
        sf.getLineAndCharacterOfPosition(node.getStart()).line +
          1 +
          ': ' +
          node.getText().slice(0, 90).replace(/\s+/g, ' '),
      );
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  total += n;
  if (n) per.push([n, f, lines]);
}
per.sort((a, b) => b[0] - a[0]);
console.log('total casts', total);
for (const [n, f, lines] of per.slice(0, Number(process.argv[2] ?? 40))) {
  console.log(n, f);
  if (process.argv[3]) for (const l of lines) console.log('    ', l);
}
