// Proves: events map to the points of CONTRACT section 7 (count as integer, floats elsewhere, booleans as 1.0/0.0, times in ms) and line protocol escapes what it must.
import { describe, expect, it } from "vitest";
import { toLine } from "./line_protocol.ts";
import { eventToPoints } from "./points.ts";
import { PointMappingError } from "./errors.ts";
import { locationEvent, readingEvent, testConfig, windowEvent } from "../ops/test_events.ts";

const cfg = testConfig({});
const t = Date.UTC(2026, 10, 30, 12, 0, 0);

describe("eventToPoints + toLine", () => {
  it("writes a window as one sensor_window point per metric, count as integer, time = window start", () => {
    const lines = eventToPoints(windowEvent(cfg, "t1", t, { temperature: [20, 22], door: [1] }).event).map(toLine);
    expect(lines).toEqual([
      `sensor_window,device=t1,metric=temperature,window=tumbling_1m count=2i,sum=42.0,min=20.0,max=22.0,mean=21.0,first=20.0,last=22.0,stddev=1.0 ${t}`,
      `sensor_window,device=t1,metric=door,window=tumbling_1m count=1i,sum=1.0,min=1.0,max=1.0,mean=1.0,first=1.0,last=1.0,stddev=0.0 ${t}`,
    ]);
  });
  it("writes a location with the fields present, time = event time", () => {
    const [line] = eventToPoints(locationEvent(cfg, "t1", t + 5, { lat: 52.5, lon: 13.25, speed_mps: 3 }).event).map(toLine);
    expect(line).toBe(`location,device=t1 lat=52.5,lon=13.25,speed_mps=3.0 ${t + 5}`);
  });
  it("writes raw readings as floats, booleans as 1.0/0.0, and none when raw is off", () => {
    const ev = readingEvent(cfg, "t1", t + 7, { temp: 21.5, door_open: true, closed: false, n: 3 }).event;
    expect(eventToPoints(ev).map(toLine)).toEqual([`sensor_reading,device=t1 temp=21.5,door_open=1.0,closed=0.0,n=3.0 ${t + 7}`]);
    expect(eventToPoints(ev, false)).toEqual([]);
  });
  it("makes no points for other event types and refuses broken data", () => {
    expect(eventToPoints({ ...readingEvent(cfg, "t1", t, {}).event, type: "SequenceGapDetected", data: { from: 1, to: 2 } })).toEqual([]);
    expect(() => eventToPoints({ ...readingEvent(cfg, "t1", t, {}).event, data: { metrics: { x: "hot" } } })).toThrow(PointMappingError);
  });
  it("escapes tag values, field keys and measurements", () => {
    expect(toLine({ measurement: "a b,c", tags: { "k=1": "v 1,x" }, fields: { "f x": 1.5 }, time: 1 })).toBe("a\\ b\\,c,k\\=1=v\\ 1\\,x f\\ x=1.5 1");
    expect(toLine({ measurement: "m", tags: {}, fields: { big: 1e21, neg: -0.5 }, time: 2 })).toBe("m big=1e+21,neg=-0.5 2");
  });
});
