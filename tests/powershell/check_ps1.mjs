// Syntax check for PowerShell scripts without PowerShell: parses each file with tree-sitter's
// PowerShell grammar and prints every ERROR and MISSING node as FILE:LINE:COLUMN.
//
//   node tests/powershell/check_ps1.mjs [--modules DIR] FILE.ps1...
//
// DIR is the node_modules folder holding tree-sitter and tree-sitter-powershell (default:
// .tools/node/node_modules of the repository, where `make node-tools` installs them from this folder's
// package.json). Exit status: 0 every file parsed cleanly, 1 a syntax error was found, 2 bad usage or
// the parser is not installed.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let modules = path.resolve(here, "..", "..", ".tools", "node", "node_modules");
if (args[0] === "--modules") {
  modules = path.resolve(args[1] ?? "");
  args.splice(0, 2);
}
if (args.length === 0) {
  console.error("usage: check_ps1.mjs [--modules DIR] FILE.ps1...");
  process.exit(2);
}

async function load(name) {
  const resolve = createRequire(path.join(modules, "noop.js")).resolve;
  const module = await import(pathToFileURL(resolve(name)).href);
  return module.default ?? module;
}

let Parser, PowerShell;
try {
  Parser = await load("tree-sitter");
  PowerShell = await load("tree-sitter-powershell");
} catch (error) {
  console.error(`cannot load tree-sitter-powershell from ${modules} (run make node-tools): ${error.message}`);
  process.exit(2);
}

const parser = new Parser();
parser.setLanguage(PowerShell);

// Every ERROR or MISSING node of a tree, outermost first.
function problems(node, found = []) {
  if (node.type === "ERROR" || node.isMissing) {
    found.push(node);
  }
  if (node.hasError || node.type === "ERROR") {
    for (const child of node.children) {
      problems(child, found);
    }
  }
  return found;
}

let failed = false;
for (const file of args) {
  const source = fs.readFileSync(file, "utf8").replace(/^\uFEFF/, "");
  // tree-sitter's default 32 KiB input chunks are fine; bufferSize lifts the limit for big scripts
  const tree = parser.parse(source, null, { bufferSize: source.length * 2 + 1024 });
  const found = problems(tree.rootNode);
  for (const node of found) {
    const { row, column } = node.startPosition;
    const what = node.isMissing ? `MISSING ${node.type}` : "ERROR";
    const text = source.slice(node.startIndex, Math.min(node.endIndex, node.startIndex + 50));
    console.log(`${file}:${row + 1}:${column + 1}: ${what} near ${JSON.stringify(text)}`);
  }
  if (found.length > 0) {
    failed = true;
  } else {
    console.log(`${file}: ok`);
  }
}
process.exit(failed ? 1 : 0);
