/**
 * An indexed binary min-heap of deadlines. The stack keeps one entry per connection with an
 * armed timer so that, after draining a connection, moving its deadline costs O(log n) and
 * finding the earliest deadline of all connections costs O(1): with 10k connections, re-arming
 * the stack's one Node timer never scans the table.
 */

/** An item the heap can hold; the heap owns `heapIndex` (-1 when not in the heap). */
export interface HeapItem {
  deadline: number;
  heapIndex: number;
}

/** Min-heap ordered by `deadline`; each item knows its own position, so update/remove are O(log n). */
export class DeadlineHeap<T extends HeapItem> {
  readonly #items: T[] = [];

  /** Number of items in the heap. */
  get size(): number {
    return this.#items.length;
  }

  /** The item with the earliest deadline, or undefined when empty. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** Sets `item`'s deadline (inserting it if absent) or removes it when `deadline` is undefined. */
  set(item: T, deadline: number | undefined): void {
    if (deadline === undefined) {
      this.remove(item);
      return;
    }
    if (item.heapIndex < 0) {
      item.deadline = deadline;
      item.heapIndex = this.#items.length;
      this.#items.push(item);
      this.#up(item.heapIndex);
      return;
    }
    const old = item.deadline;
    item.deadline = deadline;
    if (deadline < old) this.#up(item.heapIndex);
    else if (deadline > old) this.#down(item.heapIndex);
  }

  /** Removes `item` if present. */
  remove(item: T): void {
    const i = item.heapIndex;
    if (i < 0) return;
    const items = this.#items;
    const last = items.pop() as T;
    item.heapIndex = -1;
    if (i === items.length) return;
    items[i] = last;
    last.heapIndex = i;
    this.#up(i);
    this.#down(last.heapIndex);
  }

  /** Removes and returns the earliest item if its deadline is at or before `now`. */
  popDue(now: number): T | undefined {
    const top = this.#items[0];
    if (top === undefined || top.deadline > now) return undefined;
    this.remove(top);
    return top;
  }

  /** Removes every item. */
  clear(): void {
    for (const item of this.#items) item.heapIndex = -1;
    this.#items.length = 0;
  }

  #up(i: number): void {
    const items = this.#items;
    const item = items[i] as T;
    while (i > 0) {
      const parentIndex = (i - 1) >> 1;
      const parent = items[parentIndex] as T;
      if (parent.deadline <= item.deadline) break;
      items[i] = parent;
      parent.heapIndex = i;
      i = parentIndex;
    }
    items[i] = item;
    item.heapIndex = i;
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const item = items[i] as T;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && (items[right] as T).deadline < (items[left] as T).deadline) child = right;
      const c = items[child] as T;
      if (c.deadline >= item.deadline) break;
      items[i] = c;
      c.heapIndex = i;
      i = child;
    }
    items[i] = item;
    item.heapIndex = i;
  }
}
