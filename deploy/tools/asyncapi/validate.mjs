// Parses each AsyncAPI document named on the command line with @asyncapi/parser (spectral rules included) and
// prints one JSON line per document: {file, diagnostics: [{severity, code, message, path}]}. Exit 1 on any
// diagnostic of any severity, or a document that does not parse.
import { Parser, fromFile } from '@asyncapi/parser';

const SEVERITY = ['error', 'warning', 'info', 'hint'];
const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await fromFile(parser, file).parse();
  const found = diagnostics.map((d) => ({ severity: SEVERITY[d.severity], code: d.code, message: d.message,
                                          path: d.path.join('.') }));
  failed ||= found.length > 0 || document === undefined;
  console.log(JSON.stringify({ file, parsed: document !== undefined, diagnostics: found }));
}
process.exit(failed ? 1 : 0);
