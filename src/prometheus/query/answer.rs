//! One answer of the Prometheus HTTP API, parsed as it streams in and within
//! bounds: typed seeds, not a `serde_json::Value` tree, so what it holds is
//! the kept points (16 bytes each) and the labels, never a copy of the body.
//! A bound passed stops the parse at once and says which ([`Overflow`]).

use super::Labels;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::Read;

/// Bytes counted for a series' label map besides its labels' text.
pub(super) const SERIES_OVERHEAD: usize = 512;
/// Bytes counted for one label besides its name's and value's text.
pub(super) const LABEL_OVERHEAD: usize = 64;
/// Half a millisecond, seconds.
const SLACK: f64 = 5e-4;
/// Characters kept of `status`, `error` and `resultType`.
const CAPPED_CHARS: usize = 512;

/// A bound that stopped the parse of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Overflow {
    /// More points than [`Bounds::max_points`].
    Points,
    /// More series than [`Bounds::max_series`].
    Series,
    /// Labels of more than [`Bounds::label_bytes`].
    Labels,
}

/// The bounds of one answer, and the window whose points it keeps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    /// Points read at most, kept or not.
    pub max_points: usize,
    /// Series read at most.
    pub max_series: usize,
    /// Bytes of labels at most (as [`label_cost`] counts them).
    pub label_bytes: usize,
    /// Points after `lo`, up to `hi`, are kept, and a point at `first`.
    pub lo: f64,
    /// See `lo`.
    pub hi: f64,
    /// The start of the whole range: its point is kept.
    pub first: f64,
}

/// An answer as far as it was read.
#[derive(Debug, Default)]
pub(super) struct Answer {
    /// `success` or `error`, cut to a few hundred characters.
    pub status: Option<String>,
    /// The server's error message, cut likewise.
    pub error: Option<String>,
    /// `matrix`, `vector`, `scalar` or `string`.
    pub result_type: Option<String>,
    /// Each series: its labels and its points in the window.
    pub series: Vec<(Labels, Vec<(f64, f64)>)>,
    /// Points read, kept or not.
    pub points: usize,
    /// Bytes of labels read, as [`label_cost`] counts them.
    pub label_bytes: usize,
    /// The bound that stopped the parse, if one did.
    pub overflow: Option<Overflow>,
}

/// The bytes counted for a label of `text` (a name or a value).
pub(super) fn label_cost(text: &str) -> usize {
    text.len() + LABEL_OVERHEAD / 2
}

/// Parses an answer from `body` within `bounds`. On an error the answer
/// holds what was read, and `overflow` says whether a bound stopped it.
pub(super) fn parse(body: impl Read, bounds: &Bounds) -> (Answer, Result<(), serde_json::Error>) {
    let mut st = State {
        b: *bounds,
        a: Answer::default(),
    };
    let mut de = serde_json::Deserializer::from_reader(body);
    let res = Envelope(&mut st)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    (st.a, res)
}

struct State {
    b: Bounds,
    a: Answer,
}

impl State {
    fn overflow<E: de::Error>(&mut self, o: Overflow) -> E {
        self.a.overflow = Some(o);
        E::custom("a bound was passed")
    }
}

/// The fields of the envelope, of `data` and of a series that matter; the
/// rest is skipped unread.
enum Field {
    Status,
    Error,
    Data,
    ResultType,
    Result,
    Metric,
    Values,
    Other,
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Field, E> {
                Ok(match s {
                    "status" => Field::Status,
                    "error" => Field::Error,
                    "data" => Field::Data,
                    "resultType" => Field::ResultType,
                    "result" => Field::Result,
                    "metric" => Field::Metric,
                    "values" => Field::Values,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A string cut to [`CAPPED_CHARS`] characters as it is read.
struct Capped(String);

impl<'de> de::Deserialize<'de> for Capped {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Capped, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Capped;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Capped, E> {
                Ok(Capped(s.chars().take(CAPPED_CHARS).collect()))
            }
        }
        d.deserialize_str(V)
    }
}

/// `{"status": ..., "error": ..., "data": {...}}`.
struct Envelope<'a>(&'a mut State);

impl<'de> DeserializeSeed<'de> for Envelope<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Envelope<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Prometheus API response")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Field>()? {
            match k {
                Field::Status => self.0.a.status = Some(m.next_value::<Capped>()?.0),
                Field::Error => self.0.a.error = Some(m.next_value::<Capped>()?.0),
                Field::Data => m.next_value_seed(Data(&mut *self.0))?,
                _ => m.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }
}

/// `{"resultType": ..., "result": [...]}`.
struct Data<'a>(&'a mut State);

impl<'de> DeserializeSeed<'de> for Data<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Data<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the data of a query")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Field>()? {
            match k {
                Field::ResultType => self.0.a.result_type = Some(m.next_value::<Capped>()?.0),
                // A result said not to be a matrix is skipped: the caller
                // says what it is instead.
                Field::Result
                    if self
                        .0
                        .a
                        .result_type
                        .as_deref()
                        .is_none_or(|t| t == "matrix") =>
                {
                    m.next_value_seed(Matrix(&mut *self.0))?
                }
                _ => m.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }
}

/// `[{"metric": {...}, "values": [...]}, ...]`.
struct Matrix<'a>(&'a mut State);

impl<'de> DeserializeSeed<'de> for Matrix<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Matrix<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of series")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while s.next_element_seed(Series(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One series: its labels and points.
struct Series<'a>(&'a mut State);

impl<'de> DeserializeSeed<'de> for Series<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Series<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a series")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let st = self.0;
        if st.a.series.len() >= st.b.max_series {
            return Err(st.overflow(Overflow::Series));
        }
        st.a.label_bytes += SERIES_OVERHEAD;
        let mut labels = Labels::new();
        let mut points = Vec::new();
        while let Some(k) = m.next_key::<Field>()? {
            match k {
                Field::Metric => labels = m.next_value_seed(Metric(&mut *st))?,
                Field::Values => m.next_value_seed(Points(&mut *st, &mut points))?,
                _ => m.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        st.a.series.push((labels, points));
        Ok(())
    }
}

/// A series' labels, `{"name": "value", ...}`, counted against the bound
/// before each is kept.
struct Metric<'a>(&'a mut State);

impl<'de> DeserializeSeed<'de> for Metric<'_> {
    type Value = Labels;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Labels, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Metric<'_> {
    type Value = Labels;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of labels")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Labels, A::Error> {
        let mut labels = Labels::new();
        while let Some(k) = m.next_key_seed(Label(&mut *self.0))? {
            let v = m.next_value_seed(Label(&mut *self.0))?;
            labels.insert(k, v);
        }
        Ok(labels)
    }
}

/// A label's name or value: a string, counted before it is kept.
struct Label<'a>(&'a mut State);

impl<'de> DeserializeSeed<'de> for Label<'_> {
    type Value = String;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Label<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a label (a string)")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<String, E> {
        let st = self.0;
        st.a.label_bytes += label_cost(s);
        if st.a.label_bytes > st.b.label_bytes {
            return Err(st.overflow(Overflow::Labels));
        }
        Ok(s.to_string())
    }
}

/// A series' points, `[[t, "v"], ...]`: each is counted; those in the
/// window with a finite value are kept.
struct Points<'a, 'p>(&'a mut State, &'p mut Vec<(f64, f64)>);

impl<'de> DeserializeSeed<'de> for Points<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Points<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of [time, \"value\"] points")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let st = self.0;
        while let Some(Point(t, v)) = s.next_element::<Point>()? {
            st.a.points += 1;
            if st.a.points > st.b.max_points {
                return Err(st.overflow(Overflow::Points));
            }
            // Times are whole milliseconds: half of one is slack for the
            // rounding of their decimals.
            let b = &st.b;
            let inside = (t > b.lo + SLACK || (t - b.first).abs() < SLACK) && t < b.hi + SLACK;
            if v.is_finite() && t.is_finite() && inside {
                self.1.push((t, v));
            }
        }
        Ok(())
    }
}

/// `[t, "v"]`: a time in seconds and a value as a string (`"NaN"` and
/// `"+Inf"` become non-finite numbers, dropped by the caller).
struct Point(f64, f64);

impl<'de> de::Deserialize<'de> for Point {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Point, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Point;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [time, \"value\"] point")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Point, A::Error> {
                let missing = || de::Error::custom("a point without a time and a value");
                let t: f64 = s.next_element()?.ok_or_else(missing)?;
                let v: Value = s.next_element()?.ok_or_else(missing)?;
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Point(t, v.0))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A sample value: a string as Prometheus writes it, or a plain number.
struct Value(f64);

impl<'de> de::Deserialize<'de> for Value {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sample value")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
                Ok(Value(s.trim().parse().unwrap_or(f64::NAN)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(Value(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds() -> Bounds {
        Bounds {
            max_points: 10,
            max_series: 2,
            label_bytes: 4096,
            lo: 0.0,
            hi: 100.0,
            first: 0.0,
        }
    }

    fn run(body: &str, b: &Bounds) -> (Answer, bool) {
        let (a, r) = parse(body.as_bytes(), b);
        (a, r.is_ok())
    }

    #[test]
    fn a_matrix_in_any_field_order() {
        let body = r#"{"data":{"result":[{"values":[[0,"1"],[5,"2"],[7,"NaN"],[200,"3"]],
            "metric":{"job":"a"}}],"resultType":"matrix"},"warnings":[1,{"x":[]}],"status":"success"}"#;
        let (a, ok) = run(body, &bounds());
        assert!(ok);
        assert_eq!(a.status.as_deref(), Some("success"));
        assert_eq!(a.result_type.as_deref(), Some("matrix"));
        assert_eq!(a.series.len(), 1);
        assert_eq!(a.series[0].0["job"], "a");
        // NaN and the point past the window are dropped, but counted.
        assert_eq!(a.series[0].1, vec![(0.0, 1.0), (5.0, 2.0)]);
        assert_eq!(a.points, 4);
    }

    #[test]
    fn bounds_stop_the_parse() {
        let pts = format!("[{}[1,\"1\"]]", "[1,\"1\"],".repeat(20));
        let body = format!(r#"{{"data":{{"result":[{{"values":{pts}}}]}}}}"#);
        let (a, ok) = run(&body, &bounds());
        assert!(!ok);
        assert_eq!(a.overflow, Some(Overflow::Points));
        let body = r#"{"data":{"result":[{},{},{}]}}"#;
        assert_eq!(run(body, &bounds()).0.overflow, Some(Overflow::Series));
        let big = "x".repeat(5000);
        let body = format!(r#"{{"data":{{"result":[{{"metric":{{"a":"{big}"}}}}]}}}}"#);
        assert_eq!(run(&body, &bounds()).0.overflow, Some(Overflow::Labels));
    }

    #[test]
    fn a_result_that_is_no_matrix_is_skipped() {
        let body = r#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#;
        let (a, ok) = run(body, &bounds());
        assert!(ok);
        assert_eq!(a.result_type.as_deref(), Some("scalar"));
        assert!(a.series.is_empty());
    }

    #[test]
    fn long_strings_are_cut() {
        let e = "e".repeat(10_000);
        let body = format!(r#"{{"status":"error","error":"{e}"}}"#);
        let (a, ok) = run(&body, &bounds());
        assert!(ok);
        assert_eq!(a.error.unwrap().len(), CAPPED_CHARS);
    }
}
