/** Keeps the last `size` trace lines of a run, to print when a check fails. */
export class Trace {
  private lines: string[] = [];
  private head = 0;
  count = 0;

  constructor(private readonly size = 300) {}

  add(line: string): void {
    if (this.lines.length < this.size) this.lines.push(line);
    else {
      this.lines[this.head] = line;
      this.head = (this.head + 1) % this.size;
    }
    this.count++;
  }

  last(): string[] {
    return [...this.lines.slice(this.head), ...this.lines.slice(0, this.head)];
  }
}
