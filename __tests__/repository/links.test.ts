// The documentation's links hold: every relative link in README.md, the other top-level
// Markdown files and docs/**/*.md leads to a file that exists, and every `#anchor` (in the same
// file, or `other.md#anchor`) names a heading of its target, slugged the way GitHub does.
// Only http(s) and mailto links are left alone.
import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';

/** GitHub's heading id (github-slugger): lower case, punctuation and symbols dropped but `-`
 * and `_`, each space a hyphen. */
function githubSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The text GitHub renders for a heading's source: code spans without their backticks, links
 * and images by their text, no HTML tags, no emphasis markers. */
function headingText(source: string): string {
  return source
    .replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_, _ticks, code: string) => code.trim())
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/\*+|~~/g, '')
    .trim();
}

/** Lines outside fenced code blocks, with their 1-based numbers. */
function proseLines(markdown: string): Array<{ line: number; text: string }> {
  const lines = markdown.split('\n');
  const out: Array<{ line: number; text: string }> = [];
  let fence: string | undefined;
  lines.forEach((text, i) => {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(text)?.[1];
    if (fence === undefined) {
      if (marker !== undefined && !(marker[0] === '`' && text.slice(text.indexOf(marker) + marker.length).includes('`'))) fence = marker;
      else out.push({ line: i + 1, text });
    } else if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length && /^ {0,3}[`~]+\s*$/.test(text)) {
      fence = undefined;
    }
  });
  return out;
}

/** Every anchor a Markdown file offers: its headings' slugs (duplicates get -1, -2, …) and
 * explicit `<a id>`/`<a name>` targets. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const occurrences = new Map<string, number>();
  const add = (heading: string) => {
    const base = githubSlug(headingText(heading));
    let slug = base;
    while (occurrences.has(slug)) {
      const n = occurrences.get(base)! + 1;
      occurrences.set(base, n);
      slug = `${base}-${n}`;
    }
    occurrences.set(slug, 0);
    anchors.add(slug);
  };
  const lines = proseLines(markdown);
  lines.forEach(({ line, text }, i) => {
    const atx = /^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$/.exec(text);
    if (atx) add(atx[1] ?? '');
    // a setext heading: a paragraph line underlined with = or - (a table's | --- | is not)
    const next = lines[i + 1];
    if (
      !atx &&
      next?.line === line + 1 &&
      /^ {0,3}(=+|-+)\s*$/.test(next.text) &&
      text.trim() !== '' &&
      !/^\s*([-*+]|\d+[.)])\s/.test(text) &&
      !text.includes('|')
    ) {
      const before = lines[i - 1];
      if (before === undefined || before.line !== line - 1 || before.text.trim() === '' || /^ {0,3}#/.test(before.text)) add(text);
    }
    for (const m of text.matchAll(/<a\s[^>]*\b(?:id|name)="([^"]+)"/gi)) anchors.add(m[1]);
  });
  return anchors;
}

/** Code spans blanked out (same length), so that a link written inside one is not a link. */
function withoutCodeSpans(text: string): string {
  return text.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (m) => ' '.repeat(m.length));
}

interface Link {
  line: number;
  target: string;
}

/** Every link target of a Markdown file: inline links and images, reference definitions,
 * HTML href/src; not in code blocks or code spans. */
function linksOf(markdown: string): Link[] {
  const links: Link[] = [];
  for (const { line, text: raw } of proseLines(markdown)) {
    const text = withoutCodeSpans(raw);
    for (const m of text.matchAll(/\]\(\s*(<[^>]*>|[^)\s]*)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g))
      links.push({ line, target: m[1].replace(/^<|>$/g, '') });
    const definition = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(text);
    if (definition) links.push({ line, target: definition[1].replace(/^<|>$/g, '') });
    for (const m of text.matchAll(/\b(?:href|src)="([^"]*)"/gi)) links.push({ line, target: m[1] });
  }
  return links;
}

/** The broken relative links and anchors of `files` (paths relative to `root`), one line each. */
function brokenLinks(root: string, files: string[]): string[] {
  const problems: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (path: string) => {
    if (!anchorCache.has(path)) anchorCache.set(path, anchorsOf(readFileSync(join(root, path), 'utf8')));
    return anchorCache.get(path)!;
  };
  for (const file of files) {
    for (const { line, target } of linksOf(readFileSync(join(root, file), 'utf8'))) {
      if (/^(https?:|mailto:)/i.test(target)) continue;
      const problem = (reason: string) => problems.push(`${file}:${line}: "${target}" ${reason}`);
      const hash = target.indexOf('#');
      let path: string;
      let anchor: string | undefined;
      try {
        path = decodeURI(hash < 0 ? target : target.slice(0, hash));
        anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
      } catch {
        problem('is not a valid URL');
        continue;
      }
      if (path === '' && anchor === undefined) {
        problem('is empty');
        continue;
      }
      const resolved = path === '' ? file : normalize(path.startsWith('/') ? path.slice(1) : join(dirname(file), path));
      if (resolved === '..' || resolved.startsWith(`..${sep}`)) {
        problem('leads outside the repository');
        continue;
      }
      if (!existsSync(join(root, resolved))) {
        problem(`leads to ${resolved}, which does not exist`);
        continue;
      }
      if (anchor === undefined) continue;
      if (statSync(join(root, resolved)).isDirectory() || !/\.md$/i.test(resolved)) {
        // GitHub's line anchors are the only ones a file that is not Markdown has
        if (!/^L\d+(-L\d+)?$/.test(anchor)) problem(`names #${anchor} in ${resolved}, which has no headings`);
        continue;
      }
      if (!anchors(resolved).has(anchor)) problem(`names #${anchor}, which is no heading of ${resolved}`);
    }
  }
  return problems;
}

/** The documentation: the top-level Markdown files and docs/**, relative to `root`. */
function documentationFiles(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true })
      .sort((a, b) => a.name.localeCompare(b.name))
      .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : /\.md$/i.test(e.name) ? [join(dir, e.name)] : []));
  const top = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isFile() && /\.md$/i.test(e.name))
    .map((e) => e.name)
    .sort();
  return [...top, ...(existsSync(join(root, 'docs')) ? walk('docs') : [])];
}

const root = process.cwd();

describe('links in the documentation', () => {
  const files = documentationFiles(root);

  it('covers README.md and the pages of docs/', () => {
    expect(files).toContain('README.md');
    expect(files).toContain(join('docs', 'README.md'));
    // every docs page is reachable from the docs index
    const index = linksOf(readFileSync(join(root, 'docs', 'README.md'), 'utf8')).map((l) =>
      normalize(join('docs', l.target.split('#')[0])),
    );
    for (const page of files.filter((f) => f.startsWith(`docs${sep}`) && f !== join('docs', 'README.md'))) expect(index).toContain(page);
  });

  it.each(files)('%s: every relative link leads to a file that exists, every #anchor to a heading', (file) => {
    expect(brokenLinks(root, [file])).toEqual([]);
  });
});

describe('the link checker', () => {
  it('slugs headings as GitHub does', () => {
    expect(githubSlug('Referrers: signatures and SBOMs travel with the images')).toBe(
      'referrers-signatures-and-sboms-travel-with-the-images',
    );
    expect(githubSlug('Several images in one step (monorepos)')).toBe('several-images-in-one-step-monorepos');
    expect(githubSlug("Push by digest (Docker's recipe), then merge")).toBe('push-by-digest-dockers-recipe-then-merge');
    expect(githubSlug('GitLab, Artifactory, Gitea, Huawei SWR, proxies and older registries')).toBe(
      'gitlab-artifactory-gitea-huawei-swr-proxies-and-older-registries',
    );
    expect(githubSlug('snake_case and a-hyphen  twice')).toBe('snake_case-and-a-hyphen--twice');
    expect([...anchorsOf('# `attestations: referrers`: no `unknown/unknown` entries\n')]).toEqual([
      'attestations-referrers-no-unknownunknown-entries',
    ]);
    expect([...anchorsOf('# [Linked](x.md) **bold** title #\n')]).toEqual(['linked-bold-title']);
  });

  it('numbers duplicate headings -1, -2, and ignores headings in code blocks', () => {
    const markdown = '# Usage\n\n## Usage\n\n```sh\n# Usage\n```\n\n### Usage\n\nUsage\n-----\n\n## Usage 1\n\n<a id="custom"></a>\n';
    expect([...anchorsOf(markdown)]).toEqual(['usage', 'usage-1', 'usage-2', 'usage-3', 'usage-1-1', 'custom']);
  });

  it('finds links outside code, and fails on a missing file, a missing anchor, a path outside the repository', () => {
    const dir = mkdtempSync(join(tmpdir(), 'links-'));
    mkdirSync(join(dir, 'docs'));
    writeFileSync(join(dir, 'action.yml'), 'name: x\n');
    writeFileSync(join(dir, 'docs', 'page.md'), '# Page\n\n## Section one\n\n## Section one\n\n[back](../README.md#title)\n');
    writeFileSync(
      join(dir, 'README.md'),
      [
        '# Title', // 1
        '', // 2
        '[ok](docs/page.md#section-one) and [dup](docs/page.md#section-one-1), [self](#title), [file](action.yml), [dir](docs/)', // 3
        '[missing file](docs/nope.md) and [missing anchor](docs/page.md#section-two)', // 4
        '[self, misspelt](#titel) ![image](img/logo.png) [outside](../elsewhere.md) [yaml heading](action.yml#name)', // 5
        '[web](https://example.com/x.md#nope) [mail](mailto:a@example.com) `[code](nope.md)` [line](action.yml#L1)', // 6
        '```md', // 7
        '[in a fence](nope.md)', // 8
        '```', // 9
        '[ref]: docs/gone.md', // 10
        '<a href="docs/page.md#page">html</a>', // 11
      ].join('\n'),
    );
    expect(brokenLinks(dir, ['README.md', join('docs', 'page.md')])).toEqual([
      'README.md:4: "docs/nope.md" leads to docs/nope.md, which does not exist',
      'README.md:4: "docs/page.md#section-two" names #section-two, which is no heading of docs/page.md',
      'README.md:5: "#titel" names #titel, which is no heading of README.md',
      'README.md:5: "img/logo.png" leads to img/logo.png, which does not exist',
      'README.md:5: "../elsewhere.md" leads outside the repository',
      'README.md:5: "action.yml#name" names #name in action.yml, which has no headings',
      'README.md:10: "docs/gone.md" leads to docs/gone.md, which does not exist',
    ]);
    // the repository's own files pass only because they are right: break one, and it fails
    writeFileSync(join(dir, 'docs', 'page.md'), '# Page\n\n## Section one\n\n[back](../README.md#titles)\n');
    expect(brokenLinks(dir, [join('docs', 'page.md')])).toEqual([
      `${join('docs', 'page.md')}:5: "../README.md#titles" names #titles, which is no heading of README.md`,
    ]);
  });
});
