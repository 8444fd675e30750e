import { randomUUID } from "node:crypto";
import { createInterface, type Interface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import { RpcError, type AnyEvent, type PiClient } from "../client/client.js";
import type { PayloadOf } from "../protocol/events.js";
import type { SessionInfo } from "../protocol/types.js";
import type { DataPaths } from "../store/paths.js";
import {
  describeDecision,
  parseAnswer,
  promptText,
  questionLines,
  type Answer,
  type AskedRequest,
} from "./chat-approval.js";
import { makeStyle, Renderer, safeText, wantsColour, type Style } from "./chat-render.js";
import { CliError, cliPaths, DATA_DIR_OPTION } from "./context.js";
import {
  connectFailure,
  connectOwner,
  connectTarget,
  ownerTarget,
  type OwnerConnection,
} from "./owner-client.js";

export interface ChatOptions extends OwnerConnection {
  dataDir?: string;
  session?: string;
  repo?: string;
  workspace?: string;
  model?: string;
}

const CLIENT_NAME = "pi-server chat";
/** A connection that stays down this long ends the client. */
const GIVE_UP_MS = 5 * 60_000;
const MAX_BACKOFF_MS = 5_000;
/** A socket that answers no ping within this long is taken for dead and reopened. */
const PING_MS = 15_000;
/** How much of the history a reload after a replay gap looks at. */
const RELOAD_MESSAGES = 500;
const EOF_DENIAL = "no answer: the terminal client's input ended";

const HELP = [
  "type a message and press Enter to send it; while the agent works, a line steers it",
  "  (delivered after the current tool calls); in a pipe, lines wait for the turn to end",
  "/abort          stop the running turn (also Ctrl-C)",
  "/follow <text>  queue <text> for when the agent would stop, instead of steering",
  "/model <p/id>   switch the session's model (without an argument: list the models)",
  "/quit           leave (also Ctrl-D at the prompt); the session stays on the server",
  "//text          send a message that starts with /",
];

function splitModel(ref: string): { provider: string; modelId: string } {
  const slash = ref.indexOf("/");
  if (slash <= 0 || slash === ref.length - 1)
    throw new CliError(
      `model must be written provider/modelId, e.g. anthropic/claude-sonnet-4-5 (got "${ref}")`,
    );
  return { provider: ref.slice(0, slash), modelId: ref.slice(slash + 1) };
}

function errText(err: unknown): string {
  if (err instanceof RpcError) {
    // The server points protocol clients at get_available_models; a terminal has a command for it.
    const message =
      err.code === "not_found" && err.message.startsWith("unknown model ")
        ? `${err.message.split(";")[0]}; \`pi-server models\` lists the usable ones (in a chat: /model)`
        : err.message;
    return err.details ? `${message} (${err.details})` : message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A failure of the connection rather than an answer of the server. */
function isConnectionError(err: unknown): boolean {
  return !(err instanceof RpcError);
}

interface Outgoing {
  method: "prompt" | "steer" | "follow_up";
  text: string;
  clientTurnId: string;
}

/**
 * The terminal client: one session, prompts from stdin, the transcript on stdout, notices on
 * stderr. Input lines are a queue consumed by state: an open question takes the next line as its
 * answer; at idle a line is a prompt; during a turn a line typed at a terminal steers the agent,
 * while a line from a pipe waits for the turn (or its next question), so a script runs in order.
 */
class Chat {
  private client: PiClient | undefined;
  private sessionId = "";
  private epoch: string | undefined;
  private lastSeq = 0;
  /** Messages in the conversation when this client first attached: a reload never prints them. */
  private historyTotal = 0;
  /** Events that arrive while an attach is being answered, dispatched once it is. */
  private holding: AnyEvent[] | undefined;
  private serverRunning = false;
  private promptPending = false;
  private abortRequested = false;
  private readonly lines: string[] = [];
  private eof = false;
  private readonly queue: AskedRequest[] = [];
  private asking: AskedRequest | undefined;
  private readonly seenRequests = new Set<string>();
  /** Answers this client gave, by request id; those not yet delivered are sent after a reconnect. */
  private readonly answers = new Map<string, Answer & { delivered: boolean }>();
  private readonly outbox: Outgoing[] = [];
  private promptShown = false;
  private closing = false;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private readonly renderer: Renderer;
  private readonly style: Style;
  private rl: Interface | undefined;
  private readonly interactive: boolean;
  private finished!: (code: number) => void;
  readonly done = new Promise<number>((resolve) => (this.finished = resolve));

  constructor(
    private readonly paths: DataPaths,
    private readonly opts: ChatOptions,
  ) {
    this.style = makeStyle(wantsColour(process.stdout));
    this.renderer = new Renderer((s) => {
      this.promptShown = false;
      process.stdout.write(s);
    }, this.style);
    this.interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  }

  private notice(text: string): void {
    if (process.stdout.isTTY && process.stderr.isTTY) this.renderer.breakLine();
    process.stderr.write(`${this.style.dim(text)}\n`);
  }

  async start(): Promise<void> {
    const client = await connectOwner(this.paths, this.opts, CLIENT_NAME);
    try {
      const session = this.opts.session
        ? await this.attachExisting(client, this.opts.session)
        : await this.create(client);
      this.describe(session);
    } catch (err) {
      this.closing = true;
      clearInterval(this.pingTimer);
      await client.close().catch(() => undefined);
      throw err instanceof CliError ? err : new CliError(errText(err));
    }
    const rl = createInterface({
      input: process.stdin,
      ...(this.interactive ? { output: process.stdout, terminal: true } : { terminal: false }),
    });
    this.rl = rl;
    rl.on("line", (line) => {
      this.lines.push(line);
      // At a terminal, readline echoed the line and its newline.
      if (this.interactive) this.renderer.typedLine();
      this.pump();
    });
    rl.on("close", () => {
      this.eof = true;
      this.pump();
    });
    rl.on("SIGINT", () => this.interrupt());
    process.on("SIGINT", () => this.interrupt());
    process.on("SIGTERM", () => this.finish(143));
    process.stdout.on("error", () => this.finish(0));
    this.pump();
  }

  private async create(client: PiClient): Promise<SessionInfo> {
    let repoId = this.opts.repo;
    if (!repoId && !this.opts.workspace) {
      const { repos } = await client.request("repos.list", {});
      const usable = repos.filter((r) => r.ok);
      if (usable.length === 0)
        throw new CliError(
          repos.length === 0
            ? "no repository is registered: add one with `pi-server repos add <path>`, or attach with --session <id>"
            : `no registered repository is usable (${repos.map((r) => `${r.id}: ${r.error ?? "error"}`).join("; ")})`,
        );
      if (usable.length > 1)
        throw new CliError(
          `several repositories are registered; choose one with --repo <id>: ${usable.map((r) => r.id).join(", ")}`,
        );
      repoId = usable[0]!.id;
    }
    if (this.opts.model) splitModel(this.opts.model);
    this.listen(client);
    this.holding = [];
    const { session } = await client
      .request("session.create", {
        ...(repoId ? { repoId } : {}),
        ...(this.opts.workspace ? { workspaceId: this.opts.workspace } : {}),
        ...(this.opts.model ? { model: this.opts.model } : {}),
      })
      .catch((err: unknown) => {
        const unknownRepo =
          err instanceof RpcError && err.code === "not_found" && err.message.startsWith("no repo");
        throw new CliError(
          `could not create a session: ${errText(err)}${unknownRepo ? " (`pi-server repos list` shows the ids)" : ""}`,
        );
      });
    this.sessionId = session.id;
    this.lastSeq = session.seq;
    this.serverRunning = session.status === "running";
    this.release();
    return session;
  }

  private async attachExisting(client: PiClient, id: string): Promise<SessionInfo> {
    this.sessionId = id;
    const r = await this.attach(client, false).catch((err: unknown) => {
      if (err instanceof RpcError && (err.code === "not_found" || err.code === "invalid_request"))
        throw new CliError(
          `${err.message.startsWith(`no session ${id}`) ? err.message : `no session ${id}: ${err.message}`} (see \`pi-server sessions list\`)`,
        );
      throw err;
    });
    if (this.opts.model) {
      const m = await client.request("set_model", splitModel(this.opts.model), id).catch((err: unknown) => {
        throw new CliError(`could not switch to ${this.opts.model}: ${errText(err)}`);
      });
      r.model = `${m.model.provider}/${m.model.id}`;
    }
    return r;
  }

  private describe(s: SessionInfo): void {
    const where = s.repoId ? `repo ${s.repoId}${s.branch ? `, branch ${s.branch}` : ""}` : s.mode;
    this.notice(
      `session ${safeText(s.id)} (${safeText(where)}) · model ${safeText(s.model ?? "none")}${s.status === "running" ? " · a turn is running" : ""}`,
    );
    this.notice(
      this.interactive
        ? "type a message; /help lists the commands; Ctrl-C stops a turn, Ctrl-D leaves"
        : "reading prompts from stdin",
    );
  }

  private listen(client: PiClient): void {
    this.client = client;
    client.onEvent((e) => {
      if (client !== this.client || e.sessionId !== this.sessionId) return;
      if (this.holding) this.holding.push(e);
      else this.dispatch(e);
    });
    client.onClose(() => {
      if (client === this.client) this.disconnected();
    });
    let alive = true;
    client.ws.on("pong", () => (alive = true));
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (!alive) return client.ws.terminate();
      alive = false;
      client.ws.ping();
    }, PING_MS);
    this.pingTimer.unref();
  }

  private release(): void {
    const held = this.holding ?? [];
    this.holding = undefined;
    for (const e of held) this.dispatch(e);
  }

  /** Attaches (again): with sinceSeq after a drop, replaying or, on a gap, reloading what was missed. */
  private async attach(client: PiClient, resume: boolean): Promise<SessionInfo> {
    this.listen(client);
    this.holding = [];
    try {
      const r = await client.request("session.attach", {
        sessionId: this.sessionId,
        ...(resume ? { sinceSeq: this.lastSeq, ...(this.epoch ? { epoch: this.epoch } : {}) } : {}),
      });
      this.epoch = r.epoch;
      if (!resume) {
        this.historyTotal = (await client.request("get_messages", { limit: 1 }, this.sessionId)).total;
        this.lastSeq = r.seq;
      } else if (r.replay === "gap") {
        this.notice("(some events were no longer buffered; catching up from the history)");
        await this.reload(client);
        this.lastSeq = Math.max(this.lastSeq, r.seq);
      }
      this.serverRunning = r.session.status === "running";
      if (r.session.status === "idle") this.abortRequested = false;
      this.release();
      if (resume) await this.reconcile(client);
      return r.session;
    } finally {
      this.holding = undefined;
    }
  }

  private async reload(client: PiClient): Promise<void> {
    const { total } = await client.request("get_messages", { limit: 1 }, this.sessionId);
    const from = Math.max(this.historyTotal, total - RELOAD_MESSAGES);
    if (total <= from) return;
    const page = await client.request("get_messages", { limit: total - from, before: total }, this.sessionId);
    this.renderer.reload(page.messages);
  }

  /** After a reconnect: questions settled meanwhile are dropped, answers that did not get through are sent. */
  private async reconcile(client: PiClient): Promise<void> {
    const { requests } = await client.request("permission.list", { sessionId: this.sessionId });
    const pending = new Set(requests.map((r) => r.id));
    if (this.asking && !pending.has(this.asking.id)) {
      this.renderer.line(this.style.dim("(the question was settled while the connection was down)"));
      this.asking = undefined;
    }
    for (let i = this.queue.length - 1; i >= 0; i--)
      if (!pending.has(this.queue[i]!.id)) this.queue.splice(i, 1);
    for (const r of requests) this.request(r);
    for (const [id, a] of this.answers) if (!a.delivered && pending.has(id)) this.deliver(id, a);
    for (const o of this.outbox.splice(0)) this.sendOutgoing(o);
  }

  private disconnected(): void {
    this.client = undefined;
    clearInterval(this.pingTimer);
    if (this.closing) return;
    this.notice("connection lost; reconnecting…");
    void this.reconnect();
  }

  private async reconnect(): Promise<void> {
    const started = Date.now();
    let delay = 100;
    let said = "";
    while (!this.closing) {
      await sleep(delay);
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
      let client: PiClient;
      let url = this.opts.url ?? "";
      try {
        const target = ownerTarget(this.paths, this.opts);
        url = target.url;
        client = await connectTarget(target, CLIENT_NAME);
      } catch (err) {
        const msg = errText(err);
        if (/\b(401|403)\b|unauthorized|invalid token/i.test(msg)) {
          this.notice(connectFailure(url, msg));
          return this.finish(1);
        }
        if (Date.now() - started > GIVE_UP_MS) {
          this.notice(`could not reconnect for ${GIVE_UP_MS / 60_000} minutes: ${msg}`);
          return this.finish(1);
        }
        if (msg !== said) this.notice(`still reconnecting (${msg})`);
        said = msg;
        continue;
      }
      try {
        await this.attach(client, true);
        this.notice("reconnected");
        this.pump();
        return;
      } catch (err) {
        if (err instanceof RpcError && err.code === "not_found") {
          this.notice(`the session is gone: ${err.message}`);
          return this.finish(1);
        }
        this.client = undefined;
        await client.close().catch(() => undefined);
      }
    }
  }

  private dispatch(e: AnyEvent): void {
    if (e.type === "permission_request" || e.type === "permission_resolved") {
      // Pending requests are re-sent on every attach with their first seq: they are told apart by id.
      this.lastSeq = Math.max(this.lastSeq, e.seq);
      if (e.type === "permission_request") this.request(e.payload);
      else this.resolved(e.payload);
      return this.pump();
    }
    if (e.seq <= this.lastSeq) return;
    this.lastSeq = e.seq;
    if (e.type === "session_status") {
      const { status, reason } = e.payload;
      this.serverRunning = status === "running";
      if (status !== "running") this.abortRequested = false;
      if (status === "interrupted")
        this.renderer.line(this.style.yellow(`interrupted${reason ? `: ${safeText(reason)}` : ""}`));
    }
    if (e.type === "session_deleted") {
      this.renderer.line(this.style.red("the session was deleted"));
      return this.finish(1);
    }
    this.renderer.event(e);
    if (e.type === "session_status" || e.type === "agent_end") this.pump();
  }

  private request(r: AskedRequest): void {
    if (this.seenRequests.has(r.id)) return;
    this.seenRequests.add(r.id);
    this.queue.push(r);
  }

  private resolved(p: PayloadOf<"permission_resolved">): void {
    const i = this.queue.findIndex((q) => q.id === p.id);
    if (i >= 0) this.queue.splice(i, 1);
    const mine = this.answers.get(p.id);
    if (this.asking?.id === p.id) {
      this.asking = undefined;
      if (!mine)
        this.renderer.line(
          this.style.yellow(`answered elsewhere (${safeText(p.by)}): ${describeDecision(p.decision)}`),
        );
    } else if (!mine && i >= 0) {
      this.renderer.line(
        this.style.dim(`a waiting question was answered elsewhere: ${describeDecision(p.decision)}`),
      );
    }
  }

  private get busy(): boolean {
    return this.serverRunning || this.promptPending;
  }

  /** Consumes input lines as far as the state allows. */
  private pump(): void {
    if (this.closing || !this.client || this.holding) return;
    for (;;) {
      if (this.asking) {
        const line = this.lines.shift();
        if (line !== undefined) {
          this.answer(line);
          continue;
        }
        if (this.eof) {
          this.answer(undefined);
          continue;
        }
        return;
      }
      const next = this.queue.shift();
      if (next) {
        this.ask(next);
        continue;
      }
      if (this.busy) {
        if (this.interactive && this.lines.length > 0) {
          this.handleLine(this.lines.shift()!);
          continue;
        }
        return;
      }
      const line = this.lines.shift();
      if (line !== undefined) {
        this.handleLine(line);
        continue;
      }
      if (this.eof) return this.finish(0);
      this.showPrompt("› ");
      return;
    }
  }

  private showPrompt(text: string): void {
    if (!this.interactive || this.promptShown || !this.rl) return;
    this.renderer.breakLine();
    this.rl.setPrompt(text);
    this.rl.prompt();
    this.promptShown = true;
  }

  private ask(r: AskedRequest): void {
    this.asking = r;
    for (const l of questionLines(r, this.style)) this.renderer.line(l);
    const text = promptText(r);
    if (this.interactive) this.showPrompt(this.style.yellow(text));
    else this.renderer.write(text);
  }

  /** `line` undefined: the input ended with the question open, which denies it. */
  private answer(line: string | undefined): void {
    const r = this.asking;
    if (!r) return;
    if (!this.interactive) this.renderer.write(`${line ?? ""}\n`);
    const a: Answer | undefined =
      line === undefined ? { decision: "deny_once", message: EOF_DENIAL } : parseAnswer(line, r.options);
    if (!a) {
      this.renderer.line(this.style.red("not one of the choices"));
      this.asking = undefined;
      this.ask(r);
      return;
    }
    this.asking = undefined;
    this.answers.set(r.id, { ...a, delivered: false });
    this.deliver(r.id, a);
  }

  private deliver(id: string, a: Answer): void {
    const client = this.client;
    if (!client) return;
    client
      .request("permission.respond", {
        id,
        decision: a.decision,
        ...(a.message ? { message: a.message } : {}),
      })
      .then(
        () => {
          this.answers.set(id, { ...a, delivered: true });
          const said = a.message && a.message !== EOF_DENIAL ? ` — "${safeText(a.message)}"` : "";
          const colour = a.decision.startsWith("allow") ? this.style.green : this.style.red;
          this.renderer.line(colour(`${describeDecision(a.decision)}${said}`));
        },
        (err: unknown) => {
          if (isConnectionError(err)) return; // sent again after the reconnect, if still pending
          this.answers.set(id, { ...a, delivered: true });
          this.renderer.line(
            this.style.yellow(
              err instanceof RpcError && err.code === "not_found"
                ? "too late: the question was answered elsewhere or expired"
                : `the answer was refused: ${errText(err)}`,
            ),
          );
        },
      );
  }

  private handleLine(raw: string): void {
    this.promptShown = false;
    const line = raw.replace(/\s+$/, "");
    const t = line.trimStart();
    if (t.startsWith("/") && !t.startsWith("//")) return this.command(t);
    if (t === "") return;
    const text = t.startsWith("//") ? t.slice(1) : line;
    this.send(this.busy ? "steer" : "prompt", text);
  }

  private command(t: string): void {
    const [name = "", ...rest] = t.slice(1).split(/\s+/);
    const arg = rest.join(" ").trim();
    switch (name) {
      case "quit":
      case "exit":
      case "q":
        if (this.busy)
          this.notice("the turn goes on on the server; attach again with --session " + this.sessionId);
        return this.finish(0);
      case "abort":
        return this.abort();
      case "follow":
      case "followup":
        if (!arg) return this.renderer.line(this.style.red("/follow needs a message"));
        return this.send(this.busy ? "follow_up" : "prompt", arg);
      case "model":
        return this.model(arg);
      case "help":
      case "?":
        for (const l of HELP) this.renderer.line(this.style.dim(l));
        return;
      default:
        this.renderer.line(this.style.red(`unknown command /${safeText(name)} (/help lists them)`));
    }
  }

  private model(arg: string): void {
    const client = this.client;
    if (!client) return;
    if (!arg) {
      void client.request("get_available_models", {}).then(
        (r) => {
          for (const m of r.models) this.renderer.line(this.style.dim(safeText(`${m.provider}/${m.id}`)));
          if (r.modelsError) this.renderer.line(this.style.red(safeText(r.modelsError)));
        },
        (err: unknown) => this.renderer.line(this.style.red(errText(err))),
      );
      return;
    }
    let ref: { provider: string; modelId: string };
    try {
      ref = splitModel(arg);
    } catch (err) {
      return this.renderer.line(this.style.red(errText(err)));
    }
    // model_changed prints the result.
    client
      .request("set_model", ref, this.sessionId)
      .catch((err: unknown) => this.renderer.line(this.style.red(`could not switch: ${errText(err)}`)));
  }

  private send(method: Outgoing["method"], text: string): void {
    this.renderer.sent(text);
    if (!this.interactive) this.renderer.line(this.style.bold(`› ${safeText(text)}`));
    else if (method !== "prompt")
      this.renderer.line(
        this.style.dim(method === "steer" ? "(steering)" : "(queued for when the agent stops)"),
      );
    if (method === "prompt") this.promptPending = true;
    this.sendOutgoing({ method, text, clientTurnId: randomUUID() });
  }

  private sendOutgoing(o: Outgoing): void {
    const client = this.client;
    if (!client) {
      this.outbox.push(o);
      return;
    }
    client.request(o.method, { message: o.text, clientTurnId: o.clientTurnId }, this.sessionId).then(
      () => {
        if (o.method === "prompt") this.promptPending = false;
        this.pump();
      },
      (err: unknown) => {
        // The same clientTurnId after the reconnect: the server answers a duplicate, never runs it twice.
        if (isConnectionError(err)) return void this.outbox.push(o);
        if (o.method === "prompt") this.promptPending = false;
        this.renderer.line(this.style.red(`not sent: ${errText(err)}`));
        this.pump();
      },
    );
  }

  private abort(): void {
    if (!this.busy) return this.renderer.line(this.style.dim("nothing is running"));
    this.abortRequested = true;
    this.renderer.line(this.style.yellow("aborting… (Ctrl-C again leaves)"));
    this.client
      ?.request("abort", {}, this.sessionId)
      .catch((err: unknown) => this.renderer.line(this.style.red(`abort failed: ${errText(err)}`)));
  }

  private interrupt(): void {
    if (this.busy && !this.abortRequested) return this.abort();
    this.finish(130);
  }

  finish(code: number): void {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.pingTimer);
    this.renderer.breakLine();
    this.rl?.close();
    process.stdin.destroy();
    const client = this.client;
    this.client = undefined;
    void (client ? client.close().catch(() => undefined) : Promise.resolve()).then(() => this.finished(code));
  }
}

export function registerChatCommand(program: Command): void {
  program
    .command("chat")
    .description(
      "talk to a session from the terminal: creates one (or attaches with --session), streams the answer, asks approvals inline, resumes after a dropped connection",
    )
    .option("--session <id>", "attach to this session instead of creating one")
    .option("--repo <id>", "create the session on this repository (default: the only registered one)")
    .option("--workspace <id>", "create the session in this workspace")
    .option("--model <provider/id>", "the session's model (switches an attached session's model)")
    .option("--url <url>", "server URL (default: the server running on the data dir)")
    .option("--token <token>", "owner token (env PI_SERVER_TOKEN)")
    .option(...DATA_DIR_OPTION)
    .action(async (o: ChatOptions) => {
      const chat = new Chat(cliPaths(o.dataDir), o);
      await chat.start();
      process.exitCode = await chat.done;
    });
}
