// Proves: the EventBridge-style matcher handles every operator, arrays in events, nested data fields and $or, and rejects invalid patterns with a path to the offending part.
import { describe, expect, it } from "vitest";
import { compilePattern } from "./pattern.ts";

const ev = {
  specversion: "1.0",
  id: "t1:w:tumbling_1m:1764528000000:r0",
  source: "fleetstream/processor/p1",
  type: "WindowAggregateComputed",
  subject: "truck-7",
  time: "2026-11-30T12:00:00.000Z",
  datacontenttype: "application/json",
  revision: "0",
  data: {
    device: "truck-7",
    window: "tumbling_1m",
    zone: "EU-West",
    tags: ["cold-chain", "priority"],
    readings: [{ sensor: "a", value: 3 }, { sensor: "b", value: 42 }],
    metrics: { temperature: { max: 31.5, min: -2, count: 12 }, door_open: { max: 1 } },
    spare: null,
  },
};

// [name, pattern, expected]
const cases: Array<[string, unknown, boolean]> = [
  ["exact value", { type: ["WindowAggregateComputed"] }, true],
  ["exact value, miss", { type: ["LocationEnriched"] }, false],
  ["array of values is OR", { type: ["LocationEnriched", "WindowAggregateComputed"] }, true],
  ["several fields are AND", { type: ["WindowAggregateComputed"], subject: ["truck-8"] }, false],
  ["number equality", { data: { metrics: { temperature: { count: [12] } } } }, true],
  ["null equality", { data: { spare: [null] } }, true],
  ["missing field never equals", { data: { nope: ["x"] } }, false],
  ["prefix", { subject: [{ prefix: "truck-" }] }, true],
  ["prefix, miss", { subject: [{ prefix: "car-" }] }, false],
  ["prefix ignoring case", { data: { zone: [{ prefix: { "equals-ignore-case": "eu-" } }] } }, true],
  ["suffix", { source: [{ suffix: "/p1" }] }, true],
  ["suffix, miss", { source: [{ suffix: "/p2" }] }, false],
  ["suffix ignoring case", { data: { zone: [{ suffix: { "equals-ignore-case": "WEST" } }] } }, true],
  ["equals-ignore-case", { data: { zone: [{ "equals-ignore-case": "eu-west" }] } }, true],
  ["equals-ignore-case, miss", { data: { zone: [{ "equals-ignore-case": "eu-east" }] } }, false],
  ["wildcard", { subject: [{ wildcard: "tr*-7" }] }, true],
  ["wildcard, miss", { subject: [{ wildcard: "tr*-8" }] }, false],
  ["wildcard escapes regex characters", { id: [{ wildcard: "t1:w:*.*" }] }, false],
  ["wildcard literal star", { subject: [{ wildcard: "truck\\*" }] }, false],
  ["anything-but value", { subject: [{ "anything-but": "truck-8" }] }, true],
  ["anything-but value, miss", { subject: [{ "anything-but": "truck-7" }] }, false],
  ["anything-but list", { type: [{ "anything-but": ["LocationEnriched", "SequenceGapDetected"] }] }, true],
  ["anything-but list, miss", { type: [{ "anything-but": ["WindowAggregateComputed"] }] }, false],
  ["anything-but number", { data: { metrics: { temperature: { count: [{ "anything-but": 12 }] } } } }, false],
  ["anything-but prefix", { subject: [{ "anything-but": { prefix: "car-" } }] }, true],
  ["anything-but prefix, miss", { subject: [{ "anything-but": { prefix: "truck" } }] }, false],
  ["anything-but suffix", { subject: [{ "anything-but": { suffix: "-8" } }] }, true],
  ["anything-but suffix, miss", { subject: [{ "anything-but": { suffix: "-7" } }] }, false],
  ["anything-but equals-ignore-case", { data: { zone: [{ "anything-but": { "equals-ignore-case": ["eu-east", "US"] } }] } }, true],
  ["anything-but equals-ignore-case, miss", { data: { zone: [{ "anything-but": { "equals-ignore-case": "eu-WEST" } }] } }, false],
  ["anything-but wildcard", { subject: [{ "anything-but": { wildcard: "car*" } }] }, true],
  ["anything-but wildcard, miss", { subject: [{ "anything-but": { wildcard: "truck*" } }] }, false],
  ["anything-but needs the field", { data: { nope: [{ "anything-but": "x" }] } }, false],
  ["numeric >", { data: { metrics: { temperature: { max: [{ numeric: [">", 30] }] } } } }, true],
  ["numeric > miss", { data: { metrics: { temperature: { max: [{ numeric: [">", 31.5] }] } } } }, false],
  ["numeric >=", { data: { metrics: { temperature: { max: [{ numeric: [">=", 31.5] }] } } } }, true],
  ["numeric range", { data: { metrics: { temperature: { max: [{ numeric: [">", 0, "<=", 40] }] } } } }, true],
  ["numeric range, miss", { data: { metrics: { temperature: { max: [{ numeric: [">", 0, "<", 30] }] } } } }, false],
  ["numeric <", { data: { metrics: { temperature: { min: [{ numeric: ["<", 0] }] } } } }, true],
  ["numeric =", { data: { metrics: { temperature: { count: [{ numeric: ["=", 12] }] } } } }, true],
  ["numeric on a string never matches", { subject: [{ numeric: [">", 0] }] }, false],
  ["exists true", { data: { metrics: { door_open: [{ exists: true }] } } }, true],
  ["exists true, miss", { data: { metrics: { humidity: [{ exists: true }] } } }, false],
  ["exists false", { data: { metrics: { humidity: [{ exists: false }] } } }, true],
  ["exists false, miss", { data: { metrics: { door_open: [{ exists: false }] } } }, false],
  ["top-level exists", { revision: [{ exists: true }], seq: [{ exists: false }] }, true],
  ["event array: any element", { data: { tags: ["priority"] } }, true],
  ["event array: no element", { data: { tags: ["bulk"] } }, false],
  ["event array: prefix on elements", { data: { tags: [{ prefix: "cold" }] } }, true],
  ["event array of objects", { data: { readings: { value: [{ numeric: [">", 40] }] } } }, true],
  ["event array of objects, miss", { data: { readings: { value: [{ numeric: [">", 50] }] } } }, false],
  ["mixed alternatives", { subject: ["car-1", { prefix: "truck" }] }, true],
  ["$or: one branch matches", { $or: [{ subject: ["car-1"] }, { data: { metrics: { temperature: { max: [{ numeric: [">", 30] }] } } } }] }, true],
  ["$or: no branch matches", { $or: [{ subject: ["car-1"] }, { type: ["LocationEnriched"] }] }, false],
  ["$or nested with AND beside it", { type: ["WindowAggregateComputed"], data: { $or: [{ zone: [{ prefix: "US" }] }, { tags: ["priority"] }] } }, true],
  ["$or nested, AND fails", { type: ["LocationEnriched"], data: { $or: [{ zone: [{ prefix: "US" }] }, { tags: ["priority"] }] } }, false],
  ["empty pattern matches all", {}, true],
];

describe("compilePattern", () => {
  it.each(cases)("%s", (_name, pattern, expected) => {
    expect(compilePattern(pattern)(ev)).toBe(expected);
  });

  const invalid: Array<[unknown, string]> = [
    [{ data: { temp: [{ numeric: [">", "x"] }] } }, "rules[2].pattern.data.temp: numeric expects"],
    [{ data: { temp: [{ numeric: ["~", 1] }] } }, "rules[2].pattern.data.temp: numeric expects"],
    [{ data: { temp: [{ numeric: [">"] }] } }, "rules[2].pattern.data.temp: numeric expects"],
    [{ type: "WindowAggregateComputed" }, "rules[2].pattern.type: expects an array"],
    [{ type: [] }, "rules[2].pattern.type: expects a non-empty array"],
    [{ type: [{ regex: "x" }] }, 'rules[2].pattern.type: unknown matcher "regex"'],
    [{ type: [{ prefix: 1 }] }, "rules[2].pattern.type: prefix expects a string"],
    [{ type: [{ exists: "yes" }] }, "rules[2].pattern.type: exists expects true or false"],
    [{ type: [{ "anything-but": { regex: "x" } }] }, "rules[2].pattern.type: anything-but expects"],
    [{ type: [{ wildcard: "a**b" }] }, "rules[2].pattern.type: wildcard"],
    [{ type: [{ prefix: "a", suffix: "b" }] }, "rules[2].pattern.type: expects values or one-key matcher objects"],
    [{ $or: {} }, "rules[2].pattern.$or: $or expects"],
    [{ $or: [{ data: { x: [{ numeric: [1] }] } }] }, "rules[2].pattern.$or[0].data.x: numeric expects"],
    [[1], "rules[2].pattern: expects an object"],
  ];
  it.each(invalid)("rejects %j", (pattern, message) => {
    expect(() => compilePattern(pattern, "rules[2].pattern")).toThrow(message);
  });
});
