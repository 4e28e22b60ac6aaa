// speedscope's own importer (npm "speedscope", dist/release/speedscope-*.js), run under node on a profile
// file: prints one JSON line per imported profile {name, total, unit, frames}.
// Usage: node speedscope_import.mjs SPEEDSCOPE_RELEASE_DIR PROFILE_FILE
//
// The package ships speedscope's web app as one bundle whose importers are internal: the bundle is run
// with the promise of its import module published on globalThis (found by the code that awaits it), and
// with the little of a browser its start needs; it stops when it renders, after that promise exists.
import fs from 'node:fs'
import vm from 'node:vm'

const [dir, file] = process.argv.slice(2)
const bundle = fs.readdirSync(dir).find(f => /^speedscope-.*\.js$/.test(f))
let src = fs.readFileSync(`${dir}/${bundle}`, 'utf8')
const user = src.match(/return\(await (\w+)\)\.importProfileGroupFromText\(/)
if (!user) throw new Error('speedscope bundle: importProfileGroupFromText not found')
const decl = new RegExp(`var ${user[1]}=Promise\\.resolve\\(\\)\\.then\\(\\(\\)=>\\(\\w+\\(\\),\\w+\\)\\);`)
const found = src.match(decl)
if (!found) throw new Error('speedscope bundle: the import module promise not found')
src = src.replace(decl, found[0] + `globalThis.__speedscopeImporters=${user[1]};`)

const stub = () => new Proxy(function () {}, {get: (t, k) => k === Symbol.toPrimitive ? () => '' : stub(),
                                                 apply: () => stub(), construct: () => stub()})
globalThis.window = globalThis
globalThis.location = {hash: '', search: '', href: 'file:///speedscope/index.html', protocol: 'file:'}
globalThis.document = stub()
globalThis.addEventListener = () => {}
globalThis.matchMedia = () => ({matches: false, addEventListener() {}, addListener() {}})
globalThis.localStorage = {getItem: () => null, setItem() {}}
const log = console.log
console.log = () => {}            // the bundle's banner and the importers' "Importing as ..." lines
try { vm.runInThisContext(src) } catch (e) { /* the app's rendering: not needed */ }
const importers = await globalThis.__speedscopeImporters
const group = await importers.importProfileGroupFromText(file, fs.readFileSync(file, 'utf8'))
if (!group) throw new Error(`speedscope could not import ${file}`)
for (const p of group.profiles) {
  const frames = new Set()
  p.forEachFrame(f => frames.add(f.name))
  log(JSON.stringify({name: p.getName(), total: p.getTotalWeight(), unit: p.getWeightUnit(),
                      frames: [...frames].sort()}))
}
