// The CLI: the action's engine at a terminal. Results go to stdout, progress to stderr, so
// `digest=$(manifest-merge merge … --quiet)` works. Exit codes: 0 done, 1 failed, 2 usage error.
import { signingFromEnvironment } from '../request/signing.js';
import { readFileSync } from 'node:fs';
import { InputError, UsageError, isExpectedError, isUsageOrInput } from '../base/errors.js';
import { type OutputFlags, parseInspectCommand, parseMergeCommand } from './flags.js';
import { checkReference, inspectReference, inspectReferrers, renderInspection } from '../engine/inspect.js';
import type { Logger } from '../base/logger.js';
import { redactSecrets, registerSecret } from '../base/redact.js';
import { mapStackTrace } from '../base/stack.js';
import { manifestReference } from '../oci/reference.js';
import { createClient, useClient } from '../engine/client-setup.js';
import { type ImageOutcome, imageResults } from '../engine/images.js';
import { checkStep, runStep } from '../engine/run-step.js';
import { buildMetadata, renderReport } from '../engine/summary.js';
import { CLI_EXPLICIT_CREDENTIALS, renderCliError } from './wording.js';

declare const MANIFEST_MERGE_VERSION: string | undefined;
const VERSION = typeof MANIFEST_MERGE_VERSION === 'string' ? MANIFEST_MERGE_VERSION : 'dev';

const HELP = `manifest-merge ${VERSION}: merge per-platform images into one multi-arch index, on any OCI registry

Usage:
  manifest-merge merge --tag TAG [--tag TAG ...] [options] SOURCE...
  manifest-merge merge --spec FILE [options]
  manifest-merge inspect [--raw | --check] [options] REF
  manifest-merge --version | --help

Commands:
  merge      merge SOURCE images (tags or repo@sha256:… digests) and push the index to every --tag
  inspect    show a manifest (asked for with every manifest type); --raw prints its exact bytes;
             --check also verifies every child manifest and blob exists in REF's repository

Run "manifest-merge COMMAND --help" for a command's options.
Credentials come from docker login ($DOCKER_CONFIG/config.json, credential helpers) or --username/--password-stdin.
Exit codes: 0 done, 1 failed (or, for inspect --check, something is missing), 2 usage error.`;

const MERGE_HELP = `Usage: manifest-merge merge --tag TAG [--tag TAG ...] [options] SOURCE...

Merges SOURCE images (tags, repo@sha256:… digests, or oci-layout://PATH[:NAME|@DIGEST] layouts
on disk, directories or tars; indexes are unwrapped, attestations kept)
into one index and pushes it to every --tag. Progress goes to stderr; the digest to stdout.
A SOURCE may end in " platform=os/arch[/variant][:os.version]" (and " os.features=F[+F]"):
its one image is listed under that platform, which may add what the image's own lacks.

Options:
  -t, --tag TAG                 tag to push the index to (repeatable; may span repositories and registries)
  -p, --platforms LIST          platforms the index must hold exactly, e.g. linux/amd64,linux/arm64
      --attestations keep|strip|referrers
                                carry attestation manifests along in the index (keep, default), drop them
                                (strip), or take them out of the index and push each as an OCI referrer of
                                its image (referrers; one without subject gets one: a new digest, warned)
      --referrers copy|skip     copy the children's referrers (signatures, SBOMs) into tags in other
                                repositories (copy, default) or not
      --dangling-attestations drop|keep
                                an attestation whose image is not in its source index: drop it (default)
                                or keep it, linked to nothing; a warning either way
      --require-attestations LIST
                                kinds every image must have before anything is written, comma-separated:
                                provenance, sbom, signature (presence only, nothing is verified)
      --format auto|oci|docker  index type (default auto: a Docker list only when every child is Docker schema 2)
      --artifact-type TYPE      the index's artifactType, e.g. application/vnd.acme.bundle.v1+json (OCI index only)
      --metadata-file PATH      a JSON file buildx build/bake --metadata-file wrote (or build-push-action's
                                metadata output), or a glob of them: each build adds REPOSITORY@DIGEST (repeatable)
      --bake-target NAME        take only this bake target of the metadata files (repeatable)
      --dry-run                 read and plan everything, print the index and what would be done; write nothing
      --annotation A            key=value, index:key=value, manifest-descriptor:key=value or
                                manifest-descriptor[os/arch]:key=value (repeatable; OCI index only)
      --select-platform P       take only platform P of the sources, with its attestations (repeatable);
                                --platforms then checks the result
      --spec FILE               merge several images: a YAML or JSON file of images: [{tags, sources, …}];
                                give no SOURCE or --tag; other flags are defaults each image may override
      --append                  merge into the index the first --tag already points at (same platforms are replaced)
      --cleanup-sources         once the tags are pushed and read back, remove the tags of the SOURCEs given
                                by tag (never digests, layouts, or tags that are also --tag); on ghcr.io with
                                $GITHUB_TOKEN (packages: write), on Docker Hub with the login's credentials
      --sign true|recursive     sign the index keyless (Sigstore; recursive: every child too) before any tag;
                                the identity token is $SIGSTORE_ID_TOKEN or the GitHub Actions runtime's
      --attest                  SLSA v1 build provenance of the index, signed keyless, before any tag
                                (a GitHub Actions token's claims; with $GITHUB_TOKEN also GitHub's attestations API)
      --fulcio-url URL          Fulcio for --sign/--attest (default GitHub's instance), with --tsa-url
      --tsa-url URL             timestamp authority for --sign/--attest
      --rekor-url URL           Rekor v2 transparency log for --sign/--attest (a private Sigstore; default none)
      --signing-config PATH     a Sigstore signing_config.json (v0.2) naming Fulcio, TSA and Rekor v2;
                                --fulcio-url, --tsa-url and --rekor-url replace what it names
      --insecure-registry HOST  allow plain HTTP (and unverified TLS) to HOST (repeatable; loopback always may)
      --timeout DURATION        time budget for every wait, e.g. 90s, 10m, 1h30m (default 10m, at most 24h)
      --username USER           username for --registry (default: the first tag's registry)
      --password-stdin          read the password or token from standard input
      --registry HOST           registry --username/--password-stdin are for
      --json                    print the metadata JSON (the action's metadata output) instead of the digest
  -q, --quiet                   print only the digest; no progress
  -v, --verbose                 print every request (debug) on stderr
  -h, --help                    this help`;

const INSPECT_HELP = `Usage: manifest-merge inspect [options] REF

Prints REF's manifest as a tree: type, digest, size; for an index each entry with its platform and
size, attestations marked with the image they describe; for a bare image its platform (from its config).

Options:
      --raw                     print the manifest's exact bytes (byte-identical to what the registry serves)
      --check                   also check that every child manifest and blob exists in REF's repository;
                                list what is missing or was not checked (nested too deep) and exit 1 if anything is
      --referrers               also list the referrers of REF and of each child (referrers API, or the
                                sha256-<hex> fallback tag), recursively; with --check, check they and
                                their blobs exist
      --json                    print the result as JSON
      --insecure-registry HOST  allow plain HTTP (and unverified TLS) to HOST (repeatable; loopback always may)
      --timeout DURATION        time budget for every wait (default 10m, at most 24h)
      --username USER           username for REF's registry (or --registry)
      --password-stdin          read the password or token from standard input
      --registry HOST           registry --username/--password-stdin are for
  -v, --verbose                 print every request (debug) on stderr
  -h, --help                    this help`;

/** Writes bytes to stdout; a reader that closed the pipe early (`| head -c 100`) is not a failure. */
function writeStdout(bytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) =>
    process.stdout.write(bytes, (error) => {
      if (!error) resolve(0);
      else if ((error as NodeJS.ErrnoException).code === 'EPIPE') resolve(0);
      else reject(error);
    }),
  );
}

/** Progress on stderr, every line through redaction (a registry may echo a credential). */
function stderrLogger(quiet: boolean, verbose: boolean): Logger {
  const write = (line: string) => process.stderr.write(`${redactSecrets(line)}\n`);
  return {
    debug: (m) => {
      if (verbose) write(`debug: ${m}`);
    },
    info: (m) => {
      if (!quiet) write(m);
    },
    warning: (m) => write(`warning: ${m}`),
  };
}

function readPasswordFromStdin(): string {
  let password: string;
  try {
    password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  } catch (cause) {
    throw new InputError('--password-stdin: could not read standard input', { cause });
  }
  // known before any request: every message from here on has it redacted
  registerSecret(password);
  return password;
}

async function merge(args: string[]): Promise<number> {
  const command = parseMergeCommand(args, readPasswordFromStdin);
  if (command.help) {
    process.stdout.write(`${MERGE_HELP}\n`);
    return 0;
  }
  const { output } = command;
  const logger = stderrLogger(output.quiet, output.verbose);
  for (const warning of command.warnings) logger.warning(warning);
  // cleanup-sources on ghcr.io: GitHub's packages API, with the token a workflow exports (never a flag: it would show in `ps`)
  const githubToken = process.env.GITHUB_TOKEN?.trim();
  const client = githubToken ? { ...command.client, githubToken } : command.client;
  const outcomes = await runStep(
    { ...command, client },
    {
      logger,
      explicitCredentials: CLI_EXPLICIT_CREDENTIALS,
      githubApiUrl: process.env.GITHUB_API_URL || undefined,
      signing: signingFromEnvironment(process.env),
    },
  );
  if (!command.spec) checkStep(outcomes, false);
  printOutcomes(outcomes, command.spec, output, logger);
  checkStep(outcomes, command.spec);
  return 0;
}

/**
 * Stdout from the outcomes: the digest (the only line with --quiet; after the report and, for a
 * dry run, the index otherwise), or the metadata JSON (with a spec: every image's result).
 */
function printOutcomes(outcomes: ImageOutcome[], spec: boolean, output: OutputFlags, logger: Logger): void {
  if (spec) {
    if (output.json)
      process.stdout.write(
        `${JSON.stringify(
          imageResults(outcomes, (e) => renderCliError(e)),
          null,
          2,
        )}\n`,
      );
    for (const o of outcomes) {
      if (!o.ok) continue;
      if (!output.json && !output.quiet) logger.info(renderReport(o.result));
      if (!output.json) process.stdout.write(`${o.result.digest}\n`);
    }
    return;
  }
  const [only] = outcomes;
  if (!only.ok) return;
  const { result } = only;
  if (output.json) process.stdout.write(`${JSON.stringify(buildMetadata(result), null, 2)}\n`);
  else if (output.quiet) process.stdout.write(`${result.digest}\n`);
  else {
    logger.info(renderReport(result));
    if (!result.pushed) process.stdout.write(`${JSON.stringify(JSON.parse(result.manifest), null, 2)}\n`);
    process.stdout.write(`${result.digest}\n`);
  }
}

async function inspect(args: string[]): Promise<number> {
  const command = parseInspectCommand(args, readPasswordFromStdin);
  if (command.help) {
    process.stdout.write(`${INSPECT_HELP}\n`);
    return 0;
  }
  const { reference, output } = command;
  const logger = stderrLogger(false, output.verbose);
  const client = createClient(command.client, { logger, explicitCredentials: CLI_EXPLICIT_CREDENTIALS });
  return useClient(client, logger, async () => {
    client.declareScopes(reference.registry, [{ repository: reference.repository, actions: ['pull'] }]);
    if (command.raw) {
      // One request: the bytes as served (digest-checked), nothing else on stdout.
      const manifest = await client.fetchManifest(reference, manifestReference(reference));
      return writeStdout(manifest.bytes);
    }
    const inspection = await inspectReference(reference, client);
    if (command.referrers) inspection.referrers = await inspectReferrers(inspection, reference, client);
    const check = command.check ? await checkReference(inspection, reference, client, logger, undefined, inspection.referrers) : undefined;
    if (output.json) {
      const out = {
        reference: inspection.reference,
        mediaType: inspection.manifest.mediaType,
        digest: inspection.manifest.digest,
        size: inspection.manifest.size,
        ...(inspection.parsed.kind === 'index' && inspection.parsed.index!.annotations
          ? { annotations: inspection.parsed.index!.annotations }
          : {}),
        ...(inspection.parsed.kind === 'image' ? { platform: inspection.entries[0].platform ?? null } : {}),
        entries: inspection.entries.map((e) => ({ ...e.descriptor, ...(e.describes ? { describes: e.describes } : {}) })),
        ...(inspection.referrers ? { referrers: inspection.referrers } : {}),
        ...(check ? { missing: check.missing, unchecked: check.unchecked } : {}),
        requests: client.stats().requests,
      };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    } else {
      process.stdout.write(`${renderInspection(inspection)}\n`);
      if (check) {
        if (check.complete)
          process.stdout.write(
            `check: every child manifest${inspection.referrers ? ', listed referrer' : ''} and blob is present in ${reference.registry}/${reference.repository}\n`,
          );
        if (check.missing.length > 0) {
          process.stdout.write(`check: ${check.missing.length} missing from ${reference.registry}/${reference.repository}:\n`);
          for (const m of check.missing) process.stdout.write(`  - ${m.kind} ${m.digest} (needed by ${m.neededBy})\n`);
        }
        if (check.unchecked.length > 0) {
          process.stdout.write(
            `check: ${check.unchecked.length} not checked or not as listed in ${reference.registry}/${reference.repository}:\n`,
          );
          for (const u of check.unchecked) process.stdout.write(`  - ${u.kind} ${u.digest} (listed by ${u.neededBy}): ${u.reason}\n`);
        }
      }
    }
    return check && !check.complete ? 1 : 0;
  });
}

/** Runs the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // A reader that stops early (`inspect --raw REF | head -c 100`) closes the pipe: not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  try {
    if (command === '--version' || command === '-V' || command === 'version') {
      process.stdout.write(`${VERSION}\n`);
      return 0;
    }
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      process.stdout.write(`${HELP}\n`);
      return command === undefined ? 2 : 0;
    }
    if (command === 'merge') return await merge(rest);
    if (command === 'inspect') return await inspect(rest);
    throw new UsageError(`unknown command "${command}"`);
  } catch (error) {
    process.stderr.write(`manifest-merge: ${renderCliError(error)}\n`);
    if (isUsageOrInput(error)) {
      process.stderr.write('Run "manifest-merge --help" for usage.\n');
      return 2;
    }
    // Not one of ours: a bug. Its stack is what a report needs.
    if (!isExpectedError(error))
      process.stderr.write(`${redactSecrets(error instanceof Error && error.stack ? mapStackTrace(error.stack) : String(error))}\n`);
    return 1;
  }
}
