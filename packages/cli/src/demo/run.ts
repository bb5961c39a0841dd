export async function demo(_o: unknown, _io: unknown): Promise<number> { throw new Error('demo: not built yet'); }
