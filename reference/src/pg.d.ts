// The part of node-postgres this worker uses (the project does not install @types/pg).
declare module 'pg' {
  export class Client {
    constructor(config: { connectionString: string });
    connect(): Promise<void>;
    query(config: { text: string; values?: unknown[]; rowMode: 'array' }): Promise<{ rows: (string | null)[][] }>;
    end(): Promise<void>;
  }
}
