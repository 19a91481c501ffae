// Builds dist/cascade.mjs (ES module), dist/cascade.js (classic script) and
// dist/listener.js (the listener page's script), and prints their sizes:
// raw (bundled, not minified), minified, and minified + gzipped.
import { build as esbuild } from 'esbuild'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The gzipped classic build must stay within this (STYLE.md: size is a feature). */
export const SIZE_LIMIT_BYTES = 5120

export const BUNDLES = [
  { entry: 'src/index.js', out: 'dist/cascade.mjs', format: 'esm' },
  { entry: 'src/classic.js', out: 'dist/cascade.js', format: 'iife' },
  { entry: 'src/listener/entry.js', out: 'dist/listener.js', format: 'iife' },
]

const bundle = async ({ entry, format }, minify) => {
  const result = await esbuild({
    entryPoints: [join(root, entry)],
    bundle: true,
    format,
    minify,
    target: 'es2020',
    legalComments: 'none',
    write: false,
  })
  return result.outputFiles[0].contents
}

export const gzipSize = (bytes) => gzipSync(bytes, { level: 9 }).length

/** @returns {Promise<{ out: string, raw: number, minified: number, gzipped: number }[]>} */
export async function build() {
  mkdirSync(join(root, 'dist'), { recursive: true })
  const sizes = []
  for (const target of BUNDLES) {
    const [raw, minified] = await Promise.all([bundle(target, false), bundle(target, true)])
    // write then rename: tests build in parallel processes and must never read half a file
    const temporary = join(root, `${target.out}.${process.pid}.tmp`)
    writeFileSync(temporary, minified)
    renameSync(temporary, join(root, target.out))
    sizes.push({ out: target.out, raw: raw.length, minified: minified.length, gzipped: gzipSize(minified) })
  }
  return sizes
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = await build()
  const pad = (value, width) => String(value).padStart(width)
  console.log(`${'file'.padEnd(20)}${pad('raw', 9)}${pad('minified', 10)}${pad('gzipped', 9)}`)
  for (const { out, raw, minified, gzipped } of sizes) {
    console.log(`${out.padEnd(20)}${pad(raw, 9)}${pad(minified, 10)}${pad(gzipped, 9)}`)
  }
  const classic = sizes.find((size) => size.out == 'dist/cascade.js')
  console.log(`cascade.js gzipped: ${classic.gzipped} of ${SIZE_LIMIT_BYTES} bytes`)
  if (classic.gzipped > SIZE_LIMIT_BYTES) {
    console.error('cascade.js is over its size budget')
    process.exitCode = 1
  }
}
