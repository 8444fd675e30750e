/**
 * The answers to the last `capacity` requests that carried a clientTurnId, so a client that resends
 * after a reconnect gets the first answer back instead of running the turn twice. A request still
 * in flight is shared; one that failed is forgotten, so it can be retried.
 */
export class TurnIds<R extends object> {
  private readonly answers = new Map<string, Promise<R>>();

  constructor(private readonly capacity = 256) {}

  run(id: string | undefined, fn: () => Promise<R>): Promise<R> {
    if (id === undefined) return fn();
    const seen = this.answers.get(id);
    if (seen) return seen.then((r) => ({ ...r, duplicate: true }));
    const answer = fn();
    this.answers.set(id, answer);
    answer.catch(() => this.answers.delete(id));
    while (this.answers.size > this.capacity) {
      const oldest = this.answers.keys().next().value;
      if (oldest === undefined) break;
      this.answers.delete(oldest);
    }
    return answer;
  }
}
