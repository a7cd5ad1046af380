// String enums of the schema accept their values as plain strings (JSON has no enums); all else is strict.
export type Loose<T> = T extends string
  ? `${T}`
  : T extends Array<infer U>
    ? Array<Loose<U>>
    : T extends object
      ? { [K in keyof T]: Loose<T[K]> }
      : T;
