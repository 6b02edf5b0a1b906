import { expect } from 'chai';
import { DeadlineHeap, type HeapItem } from './deadline-heap.js';
import { seededBytes } from './__tests__/seeded.js';

interface Item extends HeapItem {
  readonly id: number;
}

function item(id: number): Item {
  return { id, deadline: 0, heapIndex: -1 };
}

describe('DeadlineHeap', () => {
  it('pops due items in deadline order', () => {
    const heap = new DeadlineHeap<Item>();
    const items = [5, 1, 4, 2, 3].map((d) => {
      const it = item(d);
      heap.set(it, d * 10);
      return it;
    });
    expect(heap.size).to.equal(5);
    expect(heap.peek()?.id).to.equal(1);
    expect(heap.popDue(5)).to.equal(undefined);
    const popped: number[] = [];
    for (let it = heap.popDue(35); it !== undefined; it = heap.popDue(35)) popped.push(it.id);
    expect(popped).to.deep.equal([1, 2, 3]);
    expect(items.filter((i) => i.heapIndex >= 0).map((i) => i.id).sort()).to.deep.equal([4, 5]);
  });

  it('moves, removes and clears items', () => {
    const heap = new DeadlineHeap<Item>();
    const a = item(1);
    const b = item(2);
    heap.set(a, 100);
    heap.set(b, 200);
    heap.set(b, 50);
    expect(heap.peek()).to.equal(b);
    heap.set(b, undefined);
    expect(b.heapIndex).to.equal(-1);
    expect(heap.peek()).to.equal(a);
    heap.remove(a);
    heap.remove(a);
    expect(heap.size).to.equal(0);
    heap.set(a, 1);
    heap.clear();
    expect(a.heapIndex).to.equal(-1);
    expect(heap.peek()).to.equal(undefined);
  });

  it('keeps the heap order under random updates (seeded)', () => {
    const seed = Number(process.env.SEED ?? 1234);
    const rnd = seededBytes(40_000, seed);
    let k = 0;
    const next = (): number => rnd[k++ % rnd.length] as number;
    const heap = new DeadlineHeap<Item>();
    const items = Array.from({ length: 64 }, (_, i) => item(i));
    const model = new Map<Item, number>();
    for (let step = 0; step < 5000; step++) {
      const it = items[next() % items.length] as Item;
      const op = next() % 3;
      if (op === 0) {
        heap.remove(it);
        model.delete(it);
      } else {
        const d = next() * 256 + next();
        heap.set(it, d);
        model.set(it, d);
      }
      const min = Math.min(...model.values());
      expect(heap.size, `seed ${seed} step ${step}`).to.equal(model.size);
      if (model.size > 0) expect(heap.peek()?.deadline, `seed ${seed} step ${step}`).to.equal(min);
    }
  });
});
