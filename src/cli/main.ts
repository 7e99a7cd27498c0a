#!/usr/bin/env node
/**
 * `ofgw`: the gateway's command line. Exit codes: 0 success, 1 a failed operation (a
 * record not found, an invalid value, a refused connection), 2 bad usage or configuration.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../config.js';
import { renderConfigDoc, withConfigTable } from '../docs/config-doc.js';
import { renderErrorsDoc } from '../docs/errors-doc.js';
import { StoreError } from '../store/index.js';
import { UsageError } from './args.js';
import { packageVersion } from './version.js';
import { configCommand } from './commands/config.js';
import { connectCommand } from './commands/connect.js';
import { inFlags } from './commands/record-fields.js';
import { COMMANDS } from './commands/records.js';
import { sandboxCommand } from './commands/sandbox.js';
import { SECRETS_COMMANDS } from './commands/secrets.js';
import { serveCommand } from './commands/serve.js';
import { WEBHOOK_COMMANDS } from './commands/webhooks.js';
import { settingFlagsUsage } from './settings-flags.js';
import { printError, printResult } from './output.js';

const USAGE = `Usage: ofgw <command> [options]        (every command takes --json and --db PATH)

  org, subscription, key, model, webhook and audit commands work on the local store (--db, OFGW_DB), or on
  a running gateway's management API with --url http://HOST:PORT (or OFGW_ADMIN_URL) and the
  operator token in OFGW_ADMIN_TOKEN. ofgw connect takes the gateway's --url ws://HOST:PORT
  (or OFGW_GATEWAY_URL).

  serve [--<setting> V]…            run the gateway; each setting (README) is a flag, an OFGW_*
                                    variable or a key of the --config JSON file (secrets: no flags)
${settingFlagsUsage('      ', 100)}
  config [--<setting> V]…           print the effective configuration, secrets masked
  org create --name NAME            create an organization
  org list
  org rename ORG_ID --name NAME
  org delete ORG_ID                 delete it with its subscription, keys and models; its live relays close (4401)
  subscription set --org ORG_ID --status active|canceled [--plan NAME]
  subscription show --org ORG_ID
  key create --org ORG_ID [--name NAME] [--expires-at ISO_DATE]   (the key is shown once)
  key list --org ORG_ID
  key revoke KEY_ID
  key rotate KEY_ID [--grace 24h]   replace in one step (the new key is shown once); the old key works until
                                    the grace ends (0 by default; s, m, h or d, at most 30d)
  model add --org ORG_ID --ws-url URL --ws-token TOKEN|- [--user-agent UA] [--cookie C] [--proxy URL] [--name NAME]
            [--delivery relay|session]
                                    relay (default): one OnlyFans socket per client connection; session:
                                    one socket kept open for the model, shared by its clients
  model list [--org ORG_ID]
  model show|disconnect|remove MODEL_ID   (show includes the last 10 lifecycle events)
  model events MODEL_ID [--limit N]       the model's lifecycle trail, newest first (kept after removal)
  model connect MODEL_ID [--ws-url URL] [--ws-token TOKEN|-] [--user-agent UA] [--cookie C] [--proxy URL]
                                    store new credentials if given (clears a rejected token), then connect
  model update MODEL_ID [--ws-url URL] [--ws-token TOKEN|-] [--user-agent UA] [--cookie C] [--proxy URL] [--name NAME]
            [--delivery relay|session]
  audit [--org ORG_ID] [--action ACTION|KIND] [--actor cli|cli-remote|api|dashboard] [--target ID]
        [--since ISO_DATE] [--until ISO_DATE] [--before SEQ] [--limit N]
                                    the operator audit trail (who changed what, when), newest first
  webhook add --org ORG_ID --url URL [--events TYPE,…] [--models MODEL_ID,…]   (the secret is shown once)
                                    events: onlyfans.<key>, model.*, session.*, webhook.test, prefix.* or *;
                                    URLs https on a public host unless webhookAllowPrivateTargets
  webhook list [--org ORG_ID]
  webhook show|remove|rotate-secret|test WEBHOOK_ID
                                    rotate-secret: a new secret (shown once), the old one signs for
                                    webhookSecretOverlapMs; test: queue a webhook.test delivery
  webhook update WEBHOOK_ID [--url URL] [--events TYPE,…] [--models MODEL_ID,…] [--enabled true|false]
                                    "" for --events or --models: every type or model
  webhook deliveries WEBHOOK_ID [--status pending|delivered|failed] [--limit N] [--before DELIVERY_ID]
  webhook delivery DELIVERY_ID      one delivery with its attempts
  webhook redeliver DELIVERY_ID     send it again (same webhook-id), fresh retry schedule
                                    webhook commands go remote with --admin-url URL or OFGW_ADMIN_URL
                                    (their --url is the endpoint's)
  secrets status [--key-file PATH]  key ids, the current one, and how many values each encrypts
  secrets rotate [--key-file PATH] [--batch-size N]
                                    new current key, every secret re-encrypted (safe while serving)
  secrets prune [--key-file PATH]   remove keys no stored value uses (key file only)
  sandbox [--port P] [--interval-ms MS]   run the OnlyFans simulator alone
  connect MODEL_ID --api-key KEY [--url ws://HOST:PORT] [--send JSON] [--count N_EVENTS]
                                    open a relay and print its frames
  docs errors|config [--readme FILE] print docs/errors.md, or the README's settings table (or update it in FILE)
  version
`;

/** `ofgw audit [filters]` is the audit group's one subcommand, `list`, without its name. */
function withImpliedSubcommand(argv: string[]): string[] {
  return argv[0] === 'audit' && (argv[1] === undefined || argv[1].startsWith('-')) ? ['audit', 'list', ...argv.slice(1)] : argv;
}

async function run(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = withImpliedSubcommand(argv);
  const json = argv.includes('--json');
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return 0;
      case 'version':
      case '--version':
        process.stdout.write(`${packageVersion()}\n`);
        return 0;
      case 'serve':
        return await serveCommand(argv.slice(1));
      case 'config':
        return configCommand(argv.slice(1));
      case 'sandbox':
        return await sandboxCommand(argv.slice(1));
      case 'connect':
        return await connectCommand(argv.slice(1));
      case 'docs':
        if (sub === 'errors') process.stdout.write(renderErrorsDoc());
        else if (sub === 'config' && rest[0] === '--readme' && rest[1]) writeFileSync(rest[1], withConfigTable(readFileSync(rest[1], 'utf8')));
        else if (sub === 'config') process.stdout.write(renderConfigDoc());
        else throw new UsageError(`docs: unknown topic "${sub ?? ''}" (known: errors, config)`);
        return 0;
    }
    const group = command === 'secrets' ? SECRETS_COMMANDS : command === 'webhook' ? WEBHOOK_COMMANDS : COMMANDS[command];
    if (!group) throw new UsageError(`unknown command "${command}" (see ofgw help)`);
    const handler = sub === undefined ? undefined : group[sub];
    if (!handler) {
      throw new UsageError(`${command}: unknown subcommand "${sub ?? ''}" (known: ${Object.keys(group).join(', ')})`);
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(USAGE);
      return 0;
    }
    const { result, columns } = await handler(rest);
    printResult(result, json, columns);
    return 0;
  } catch (err) {
    const failure = failureOf(err);
    printError(failure.message, failure.code, json);
    return failure.exitCode;
  }
}

/**
 * The one mapping from a kind of failure to what is printed and the exit code the README
 * promises: 2 for bad usage or configuration only; 1 for a failed operation, whichever command
 * and whether local or remote (a record or store not found, an invalid value, a refusal).
 */
function failureOf(err: unknown): { message: string; code: string; exitCode: 1 | 2 } {
  if (err instanceof UsageError) return { message: err.message, code: 'USAGE', exitCode: 2 };
  if (err instanceof ConfigError) return { message: err.message, code: 'CONFIG', exitCode: 2 };
  if (err instanceof StoreError) return { message: inFlags(err), code: err.code, exitCode: 1 };
  return { message: err instanceof Error ? err.message : String(err), code: 'ERROR', exitCode: 1 };
}


process.exitCode = await run(process.argv.slice(2));
// Commands other than serve/sandbox/connect leave no handles open; those three return only
// once their sockets are closed, so an explicit exit is not needed.
