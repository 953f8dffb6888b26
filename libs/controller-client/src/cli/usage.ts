/** The help text of `crank`, printed by `crank help`, `--help`, and (to stderr) on a usage error. */
export const USAGE = `Usage: crank <command> [options]

Commands:
  capabilities                 list capabilities: versions, live workers, streaming mode, schemas
  workers                      list registered workers
  invoke <capability>          call a capability and print its output
      --json '<json>'          input as JSON text
      --file <path>            input from a file, or - for stdin; piped stdin is read when
                               neither --json nor --file is given
      --content-type <type>    send the file or stdin as raw bytes of this type (e.g. application/pdf);
                               a --file without it goes as the first raw type the capability
                               takes, unless its name ends in .json, .jsonl or .ndjson
      --version <range>        semver range of the capability (e.g. ^1.0.0)
      --timeout <ms>           deadline of the call
                               A unary capability takes the input as one JSON document (or the
                               bytes) and prints {workerId, version, output}. A streaming one takes
                               JSON lines, one record per line (or raw 64 KiB chunks with
                               --content-type) and prints each output record as it arrives, one
                               JSON per line (bytes as they are), with bytes sent, records and
                               MB/s on stderr when it is a terminal. Ctrl-C cancels the call.
  jobs submit <capability>     queue a job and print it; input as for invoke (--json, --file,
                               piped stdin, --content-type)
      --version <range>        semver range of the capability
      --priority <0-10>        default 5; higher runs first
      --max-attempts <n>       attempts before dead_letter (controller default 3)
      --timeout <ms>           limit of each attempt (controller default 300000)
      --backoff <ms>           first retry delay, doubled on each retry (controller default 1000)
      --delay <ms> | --run-at <ISO date>   not before then
      --idempotency-key <key>  a second submit with the same key returns the first job
      --wait                   follow the job to its end (a live progress bar on a terminal, else
                               one JSON line per change) and print it; exit 0 only if completed
  jobs get <id>                print a job with its history
  jobs list                    list jobs (a table on a terminal, else JSON lines ending with
                               {"nextCursor": ...})
      --status <s,s>           pending, assigned, processing, completed, failed, cancelled,
                               dead_letter
      --capability <id>   --priority-min <n>   --priority-max <n>   --from <ISO>   --to <ISO>
      --limit <n>              page size, 1 to 500 (default 50)
      --cursor <c>             the next page, from the previous one's nextCursor
      --sort <order>           created_desc (default), created_asc or priority_desc
  jobs watch [id...]           follow job events until Ctrl-C: a live progress line per job on a
                               terminal, else one JSON event per line
      --capability <id>        only jobs of this capability
      --after <event id>       replay the events after this one first
  jobs cancel <id>             cancel a job (a running one ends cancelled shortly)
  jobs retry <id>              run a failed or dead_letter job again
  enroll                       get (or renew) this caller's certificate
  keys <create|list|revoke>    API keys of the controller's HTTP API (crank keys --help)
  help                         print this help

Options for every command:
  --controller <host:port>     controller gRPC address (CRANK_CONTROLLER_URL, default 127.0.0.1:8443)
  --data-dir <dir>             controller data dir with ca.crt and bootstrap-token (CRANK_DATA_DIR,
                               default ./.crank)
  --home <dir>                 this caller's own dir for its keys and certificates (CRANK_HOME,
                               default ~/.config/crank)
  --name <name>                caller name in the certificate (default cli-$USER)
  -h, --help                   print this help

Exit status: 0 done, 1 the call failed (or the job of jobs submit --wait did not complete),
2 usage error, 130 cancelled (Ctrl-C).
`;

/** Thrown when the command line is wrong: `crank` prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
