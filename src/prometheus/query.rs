//! `analyze --prometheus`: judging the series a Prometheus server (or Thanos,
//! Mimir, VictoriaMetrics: the same HTTP API) already holds, each with the
//! same detector as a watch.
//!
//! The range is read in time chunks, oldest first (`QUERY[CHUNK]` evaluated
//! at each chunk's end: raw samples, no resampling; any other expression
//! with `query_range`, at most [`MAX_STEPS`] points a series), so an answer
//! holds about [`MAX_POINTS`] samples; each series feeds its own detector,
//! whose state is bounded. A chunk the server refuses as too large, or whose
//! answer passes [`MAX_ANSWER_POINTS`], is halved, down to [`CHUNK_FLOOR_S`].
//!
//! A hostile or just huge server is held to bounds, each an error naming
//! what to change: answers of at most [`MAX_BODY_BYTES`] once decompressed,
//! parsed as they stream in (no copy of the body, no JSON tree); points, in
//! an answer and in all ([`MAX_TOTAL_POINTS`]); `--max-series`; labels
//! ([`LABEL_BUDGET`]); the detectors' state ([`STATE_BUDGET`]: past the
//! first few thousand long series, each further one gets a coarser
//! detector); and `--timeout` for the whole read. The bearer token file is
//! read up to [`MAX_TOKEN_BYTES`]. A redirect to another host is followed
//! without the token, and said in a warning.

mod answer;

use crate::detector::{Detector, DetectorConfig, MAX_BUCKETS, Verdict};
use crate::units::{format_bytes, format_secs, quoted};
use answer::{Answer, Bounds, Overflow};
use anyhow::{Result, anyhow, bail};
use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::Path;
use std::time::{Duration, Instant};
use ureq::ResponseExt;

/// Samples aimed for in one answer, over all series.
pub const MAX_POINTS: f64 = 500_000.0;
/// Points one answer may hold; past them the chunk is halved.
pub const MAX_ANSWER_POINTS: usize = 1_000_000;
/// Points read over the whole range at most.
pub const MAX_TOTAL_POINTS: u64 = 50_000_000;
/// Bytes of one answer at most, once decompressed.
pub const MAX_BODY_BYTES: u64 = 64 << 20;
/// Bytes of the bearer token file at most.
pub const MAX_TOKEN_BYTES: u64 = 64 << 10;
/// The shortest chunk: a server that refuses even this is an error, not
/// thousands of requests.
pub const CHUNK_FLOOR_S: f64 = 60.0;
/// Points a series one `query_range` request may ask for, as Prometheus
/// enforces (range / step ≤ 11,000).
pub const MAX_STEPS: f64 = 11_000.0;
/// Bytes of labels held at most, over all series (and in one answer).
pub const LABEL_BUDGET: usize = 16 << 20;
/// Bytes of detector state at most, over all series.
pub const STATE_BUDGET: usize = 128 << 20;
/// The default of `--max-series`.
pub const DEFAULT_MAX_SERIES: usize = 10_000;
/// The default of `--timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The coarsest detector given to a series: its buckets.
const MIN_BUCKETS: usize = 16;
/// Bytes of one detector bucket (checked by a test).
const BUCKET_BYTES: usize = 56;
/// Bytes of the first part of an answer kept to quote if it is no JSON.
const HEAD_BYTES: u64 = 512;

/// A series' labels.
pub type Labels = BTreeMap<String, String>;

/// What to fetch and how to judge it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromConfig {
    /// The server's base URL, e.g. `http://127.0.0.1:9090`.
    pub url: String,
    /// The PromQL expression whose series to judge (an instant vector).
    pub query: String,
    /// How far back to read, seconds.
    pub range_s: f64,
    /// A file holding a bearer token for the server, if it needs one.
    pub token_file: Option<std::path::PathBuf>,
    /// The end of the range, seconds since the epoch (`None`: now).
    pub end: Option<f64>,
    /// For an expression that is not a plain selector: the resolution at
    /// which it is evaluated, seconds (no coarser than the scrape interval;
    /// 1 s or more).
    pub step_s: f64,
    /// Warm-up and minimum rate.
    pub detector: DetectorConfig,
    /// Series judged at most: more is an error.
    pub max_series: usize,
    /// The whole read may take this long at most.
    pub timeout: Duration,
}

/// One series and its verdict.
#[derive(Debug, Clone)]
pub struct SeriesVerdict {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The detector's verdict (its `floor` series is not kept, to bound
    /// memory over thousands of series).
    pub verdict: Verdict,
}

/// Every series a query returned, judged.
#[derive(Debug, Clone)]
pub struct PromOutcome {
    /// Each series and its verdict, fastest growth first.
    pub series: Vec<SeriesVerdict>,
    /// The query judged.
    pub query: String,
    /// The server asked.
    pub url: String,
    /// Seconds of history read.
    pub range_s: f64,
    /// Growth slower than this is a plateau, bytes per second.
    pub min_rate: f64,
    /// Warnings met on the way (a redirect to another host).
    pub warnings: Vec<String>,
}

/// The error of a query that returned no series with points over the range
/// (a fleet whose series all went is judged empty, not failed).
#[derive(Debug)]
pub struct NoSeries(String);

impl std::fmt::Display for NoSeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoSeries {}

/// Fetches every series of the query over the range and judges each.
pub fn judge(cfg: &PromConfig) -> Result<PromOutcome> {
    let mut held = Held::new(cfg)?;
    let client = read(cfg, &mut held)?;
    Ok(PromOutcome {
        series: held.verdicts()?,
        query: cfg.query.clone(),
        url: cfg.url.clone(),
        range_s: cfg.range_s,
        min_rate: cfg.detector.min_rate,
        warnings: client.redirected.into_iter().collect(),
    })
}

/// The last value of every series of the query over the range (labels
/// less `__name__`), read as [`judge`] reads (the same bounds); none is an
/// error.
pub fn latest(cfg: &PromConfig) -> Result<Vec<(Labels, f64)>> {
    let mut last = Last {
        cfg,
        values: BTreeMap::new(),
    };
    read(cfg, &mut last)?;
    if last.values.is_empty() {
        bail!(
            "{}: the query {} returned no series with points over the last {}; check the query",
            cfg.url,
            quoted(&cfg.query),
            format_secs(cfg.range_s)
        );
    }
    Ok(last.values.into_iter().map(|(l, (_, v))| (l, v)).collect())
}

/// What a read gives the answers of its chunks to.
trait Sink {
    /// A chunk's answer.
    fn answer(&mut self, a: Answer) -> Result<()>;
    /// The points read of a chunk too large, thrown away.
    fn discarded(&mut self, points: usize) -> Result<()>;
}

impl Sink for Held<'_> {
    fn answer(&mut self, a: Answer) -> Result<()> {
        self.take(a)
    }
    fn discarded(&mut self, points: usize) -> Result<()> {
        // Points read and thrown away count too: a server cannot make
        // leakwatch read without end by always sending too many.
        self.count(points)
    }
}

/// Each series' last point (time, value), by its labels less `__name__`.
struct Last<'a> {
    cfg: &'a PromConfig,
    values: BTreeMap<Labels, (f64, f64)>,
}

impl Sink for Last<'_> {
    fn answer(&mut self, a: Answer) -> Result<()> {
        for (mut labels, pts) in a.series {
            labels.remove("__name__");
            if let Some(&p) = pts.last() {
                let e = self.values.entry(labels).or_insert(p);
                if p.0 >= e.0 {
                    *e = p;
                }
            }
        }
        if self.values.len() > self.cfg.max_series {
            return Err(too_many_series(self.cfg));
        }
        Ok(())
    }
    fn discarded(&mut self, _points: usize) -> Result<()> {
        Ok(())
    }
}

/// Reads the range in chunks, oldest first, each answer given to `sink`;
/// a chunk too large is halved. Returns the client, which knows of a
/// redirect.
fn read<'a>(cfg: &'a PromConfig, sink: &mut dyn Sink) -> Result<Client<'a>> {
    let mut client = Client::new(cfg)?;
    let mut chunks = Chunks::new(cfg, cfg.end.unwrap_or_else(now));
    while let Some((lo, hi)) = chunks.next() {
        let bounds = Bounds {
            max_points: MAX_ANSWER_POINTS,
            max_series: cfg.max_series,
            label_bytes: LABEL_BUDGET,
            lo,
            hi,
            first: chunks.start,
        };
        match client.fetch(&bounds)? {
            Fetched::Answer(a) => {
                let points = a.points;
                sink.answer(a)?;
                chunks.advance(hi, points);
            }
            Fetched::TooBig(why, points) => {
                sink.discarded(points)?;
                if !chunks.shrink() {
                    return Err(too_big(cfg, &why, hi - lo));
                }
            }
        }
    }
    Ok(client)
}

/// Why a chunk was too large.
enum TooBig {
    /// The server said so, in these words.
    Refused(String),
    /// Its answer passed [`MAX_ANSWER_POINTS`].
    Points,
}

/// The error for a chunk too large even at the floor, `len` seconds.
fn too_big(cfg: &PromConfig, why: &TooBig, len: f64) -> anyhow::Error {
    let (url, q, len) = (&cfg.url, quoted(&cfg.query), format_secs(len));
    match why {
        TooBig::Refused(msg) => anyhow!(
            "Prometheus at {url} refuses even {len} of {q} as too large ({}); narrow the query (e.g. by job or instance) or raise the server's --query.max-samples",
            quoted(msg)
        ),
        TooBig::Points => anyhow!(
            "{url} sends more than {MAX_ANSWER_POINTS} points for even {len} of {q}; narrow the query (e.g. by job or instance)"
        ),
    }
}

/// The error for more series than `--max-series`.
fn too_many_series(cfg: &PromConfig) -> anyhow::Error {
    let n = cfg.max_series;
    anyhow!(
        "{} returns more than {n} series (--max-series {n}); narrow the query (e.g. by job or instance) or raise --max-series",
        quoted(&cfg.query)
    )
}

/// The bearer token in `path`: one line of visible ASCII, read up to
/// [`MAX_TOKEN_BYTES`] (so `/dev/zero` is an error, not a hang).
fn read_token(path: &Path) -> Result<String> {
    let p = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow!("cannot read the bearer token file {p}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow!("cannot read the bearer token file {p}: {e}"))?;
    if bytes.len() as u64 > MAX_TOKEN_BYTES {
        bail!(
            "--bearer-token-file {p}: more than {} is no token; give a file holding just the token",
            format_bytes(MAX_TOKEN_BYTES as f64)
        );
    }
    let text = String::from_utf8_lossy(&bytes);
    let token = text.trim();
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        bail!(
            "--bearer-token-file {p}: the token must be one line of visible ASCII; give a file holding just the token"
        );
    }
    Ok(token.to_string())
}

/// The chunks the range is read in, oldest first.
struct Chunks {
    /// The start of the range, seconds since the epoch.
    start: f64,
    end: f64,
    /// Read up to here.
    done: f64,
    /// The length of the next chunk, seconds.
    len: f64,
    floor: f64,
    max: f64,
    /// For `query_range`: the step, which chunk lengths are multiples of.
    step: Option<f64>,
}

impl Chunks {
    fn new(cfg: &PromConfig, end: f64) -> Chunks {
        let range = cfg.range_s;
        // Whole milliseconds, as the requests write times and Prometheus
        // stores them.
        let end = ms(end);
        let step = (!is_selector(&cfg.query)).then_some(cfg.step_s.max(1e-3));
        let max = step.map_or(range, |s| ((MAX_STEPS - 1.0) * s).min(range));
        let floor = CHUNK_FLOOR_S.max(step.unwrap_or(0.0)).min(max);
        let mut c = Chunks {
            start: ms(end - range),
            end,
            done: ms(end - range),
            len: 0.0,
            floor,
            max,
            step,
        };
        c.len = c.fit(600.0);
        c
    }

    /// `len` within the floor and the most, a whole number of steps.
    fn fit(&self, len: f64) -> f64 {
        let len = len.clamp(self.floor, self.max);
        match self.step {
            Some(s) => (len / s).floor().max(1.0) * s,
            None => len,
        }
    }

    /// The next chunk: (after, up to), seconds since the epoch.
    fn next(&self) -> Option<(f64, f64)> {
        (self.done < self.end).then(|| (self.done, ms(self.done + self.len).min(self.end)))
    }

    /// Halves the chunk; false if it is at the floor already.
    fn shrink(&mut self) -> bool {
        let half = self.fit(self.len / 2.0);
        let shorter = half < self.len;
        self.len = half;
        shorter
    }

    /// The chunk up to `hi` is read and held `points`: the next one is aimed
    /// at [`MAX_POINTS`].
    fn advance(&mut self, hi: f64, points: usize) {
        let per_s = points as f64 / (hi - self.done).max(1.0);
        self.done = hi;
        self.len = self.fit(if per_s > 0.0 {
            MAX_POINTS / per_s
        } else {
            self.len * 2.0
        });
    }
}

/// The series read so far, each with its detector, within the budgets.
struct Held<'a> {
    cfg: &'a PromConfig,
    series: BTreeMap<Labels, Detector>,
    /// Bytes of detector state given out.
    state: usize,
    /// Bytes of labels held.
    labels: usize,
    /// Points read.
    points: u64,
    /// Whether any answer held a series, with points or not.
    seen: bool,
}

/// Bytes of the coarsest detector a series may get.
fn least_state() -> usize {
    size_of::<Detector>() + MIN_BUCKETS * BUCKET_BYTES
}

impl<'a> Held<'a> {
    fn new(cfg: &'a PromConfig) -> Result<Held<'a>> {
        let most = STATE_BUDGET / least_state();
        if cfg.max_series > most {
            bail!(
                "--max-series {}: at most {most} series fit in leakwatch's {} of detector state; lower it",
                cfg.max_series,
                format_bytes(STATE_BUDGET as f64)
            );
        }
        Ok(Held {
            cfg,
            series: BTreeMap::new(),
            state: 0,
            labels: 0,
            points: 0,
            seen: false,
        })
    }

    /// Feeds an answer's points to their series' detectors. A series with
    /// no points is not taken.
    fn take(&mut self, a: Answer) -> Result<()> {
        self.count(a.points)?;
        for (labels, points) in a.series {
            self.seen = true;
            if points.is_empty() {
                continue;
            }
            if let Some(d) = self.series.get_mut(&labels) {
                points.iter().for_each(|&(t, v)| d.push(t, v));
                continue;
            }
            let mut d = self.admit(&labels)?;
            points.iter().for_each(|&(t, v)| d.push(t, v));
            self.series.insert(labels, d);
        }
        Ok(())
    }

    /// Counts `points` read against [`MAX_TOTAL_POINTS`].
    fn count(&mut self, points: usize) -> Result<()> {
        self.points += points as u64;
        if self.points > MAX_TOTAL_POINTS {
            bail!(
                "{} holds more than {MAX_TOTAL_POINTS} points of {} over --range {}; shorten --range or narrow the query",
                self.cfg.url,
                quoted(&self.cfg.query),
                format_secs(self.cfg.range_s)
            );
        }
        Ok(())
    }

    /// A detector for a new series, within `--max-series` and the budgets:
    /// the full one while the state budget has room for it beside the
    /// coarsest one for every series that may still come, else coarser.
    fn admit(&mut self, labels: &Labels) -> Result<Detector> {
        let cfg = self.cfg;
        if self.series.len() >= cfg.max_series {
            return Err(too_many_series(cfg));
        }
        let cost = answer::SERIES_OVERHEAD
            + labels
                .iter()
                .map(|(k, v)| answer::label_cost(k) + answer::label_cost(v))
                .sum::<usize>();
        if self.labels + cost > LABEL_BUDGET {
            bail!(
                "the labels of the series of {} pass {}; narrow the query (e.g. by job or instance)",
                quoted(&cfg.query),
                format_bytes(LABEL_BUDGET as f64)
            );
        }
        self.labels += cost;
        let to_come = cfg.max_series - self.series.len() - 1;
        let spare = STATE_BUDGET.saturating_sub(self.state + to_come * least_state());
        let buckets = (spare.saturating_sub(size_of::<Detector>()) / BUCKET_BYTES)
            .clamp(MIN_BUCKETS, MAX_BUCKETS);
        self.state += size_of::<Detector>() + buckets * BUCKET_BYTES;
        Ok(Detector::with_buckets(cfg.detector, buckets))
    }

    /// Every series judged, fastest growth first; none is an error.
    fn verdicts(self) -> Result<Vec<SeriesVerdict>> {
        let cfg = self.cfg;
        if self.series.is_empty() {
            let what = if self.seen {
                "returned series but no points"
            } else {
                "returned no series"
            };
            return Err(anyhow::Error::new(NoSeries(format!(
                "{}: the query {} {what} over the last {}; check the query and --range",
                cfg.url,
                quoted(&cfg.query),
                format_secs(cfg.range_s)
            ))));
        }
        let mut out: Vec<SeriesVerdict> = self
            .series
            .into_iter()
            .map(|(labels, d)| {
                let mut verdict = d.verdict();
                verdict.floor = Vec::new();
                SeriesVerdict { labels, verdict }
            })
            .collect();
        out.sort_by(|a, b| b.verdict.rate.total_cmp(&a.verdict.rate));
        Ok(out)
    }
}

/// What one request brought.
enum Fetched {
    /// An answer with a matrix.
    Answer(Answer),
    /// The chunk was too large; so many points were read of it.
    TooBig(TooBig, usize),
}

/// Requests to the server, before a deadline.
struct Client<'a> {
    cfg: &'a PromConfig,
    agent: ureq::Agent,
    token: Option<String>,
    deadline: Instant,
    /// The host of `--prometheus`.
    host: String,
    /// The warning for a redirect to another host, once.
    redirected: Option<String>,
}

impl<'a> Client<'a> {
    fn new(cfg: &'a PromConfig) -> Result<Client<'a>> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
            .build()
            .into();
        let token = cfg.token_file.as_deref().map(read_token).transpose()?;
        let host = cfg
            .url
            .parse::<ureq::http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_string))
            .unwrap_or_default();
        Ok(Client {
            cfg,
            agent,
            token,
            deadline: Instant::now() + cfg.timeout,
            host,
            redirected: None,
        })
    }

    /// The raw samples of every series of the query in the bounds' window.
    fn fetch(&mut self, b: &Bounds) -> Result<Fetched> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.timed_out());
        }
        let url = &self.cfg.url;
        let mut resp = self
            .request(b.lo, b.hi, left)
            .call()
            .map_err(|e| self.failed(anyhow!("cannot reach Prometheus at {url}: {e}")))?;
        self.note_host(resp.get_uri());
        let status = resp.status().as_u16();
        let mut body = Capped {
            inner: resp.body_mut().as_reader(),
            left: MAX_BODY_BYTES,
            over: false,
        };
        let mut head = Vec::new();
        if let Err(e) = (&mut body).take(HEAD_BYTES).read_to_end(&mut head) {
            return Err(self.failed(anyhow!(
                "cannot read Prometheus' answer from {url}: {}",
                quoted(&e.to_string())
            )));
        }
        let reader = BufReader::with_capacity(1 << 16, head.as_slice().chain(&mut body));
        let (a, res) = answer::parse(reader, b);
        let over = body.over;
        self.interpret(status, &head, a, res, over)
    }

    /// The request for the window (`lo`, `hi`].
    fn request(
        &self,
        lo: f64,
        hi: f64,
        left: Duration,
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let cfg = self.cfg;
        let base = cfg.url.trim_end_matches('/');
        // A plain selector is read raw (`QUERY[RANGE]`); any other expression
        // is evaluated every `step` over the range (query_range).
        let mut req = if is_selector(&cfg.query) {
            let ms = ((hi - lo) * 1000.0).round().max(1.0) as u64;
            self.agent
                .get(format!("{base}/api/v1/query"))
                .query("query", format!("{}[{ms}ms]", cfg.query))
                .query("time", format!("{hi:.3}"))
        } else {
            self.agent
                .get(format!("{base}/api/v1/query_range"))
                .query("query", &cfg.query)
                .query("start", format!("{lo:.3}"))
                .query("end", format!("{hi:.3}"))
                .query("step", format!("{}", cfg.step_s))
        };
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        req.config().timeout_global(Some(left)).build()
    }

    /// An answer read (as far as it went) judged: a matrix, a chunk too
    /// large, or an error.
    fn interpret(
        &self,
        status: u16,
        head: &[u8],
        a: Answer,
        res: Result<(), serde_json::Error>,
        over: bool,
    ) -> Result<Fetched> {
        let url = &self.cfg.url;
        match a.overflow {
            Some(Overflow::Points) => return Ok(Fetched::TooBig(TooBig::Points, a.points)),
            Some(Overflow::Series) => return Err(too_many_series(self.cfg)),
            Some(Overflow::Labels) => bail!(
                "the labels in one answer from {url} pass {}; narrow the query (e.g. by job or instance)",
                format_bytes(LABEL_BUDGET as f64)
            ),
            None => {}
        }
        if let Err(e) = res {
            if over {
                bail!(
                    "{url} sent an answer of more than {} (uncompressed), far more than a chunk needs; is it a Prometheus server? If so, narrow the query",
                    format_bytes(MAX_BODY_BYTES as f64)
                );
            }
            if self.late() {
                return Err(self.timed_out());
            }
            if a.status.is_none() {
                bail!(
                    "{url} answered HTTP {status} with no Prometheus API response: {}; is it a Prometheus server?",
                    quoted(String::from_utf8_lossy(head).trim())
                );
            }
            bail!(
                "an unexpected answer from {url}: {}",
                quoted(&e.to_string())
            );
        }
        if a.status.as_deref() != Some("success") {
            let msg = a.error.unwrap_or_else(|| "no message".into());
            if msg.contains("too many samples") || msg.contains("maximum resolution") {
                return Ok(Fetched::TooBig(TooBig::Refused(msg), 0));
            }
            bail!("Prometheus at {url} refused the query: {}", quoted(&msg));
        }
        match a.result_type.as_deref() {
            Some("matrix") => Ok(Fetched::Answer(a)),
            other => bail!(
                "an unexpected answer from {url}: the query gives a {}, not a series over time; give an instant-vector expression",
                quoted(other.unwrap_or("nothing"))
            ),
        }
    }

    /// Notes an answer from another host than `--prometheus` names.
    fn note_host(&mut self, uri: &ureq::http::Uri) {
        let host = uri.host().unwrap_or_default();
        if self.redirected.is_none() && !host.eq_ignore_ascii_case(&self.host) {
            self.redirected = Some(format!(
                "{} redirected to another host: the answers judged came from {} (the bearer token was not sent there)",
                self.cfg.url,
                quoted(host)
            ));
        }
    }

    /// Whether the deadline is (about) reached.
    fn late(&self) -> bool {
        Instant::now() + Duration::from_millis(100) >= self.deadline
    }

    /// `e`, or the deadline's error once it is reached.
    fn failed(&self, e: anyhow::Error) -> anyhow::Error {
        if self.late() { self.timed_out() } else { e }
    }

    fn timed_out(&self) -> anyhow::Error {
        anyhow!(
            "no full answer from {} within --timeout {}; raise --timeout, shorten --range or narrow the query",
            self.cfg.url,
            format_secs(self.cfg.timeout.as_secs_f64())
        )
    }
}

/// A reader that gives at most `left` bytes, then an error (and `over`).
struct Capped<R> {
    inner: R,
    left: u64,
    over: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            if self.inner.read(&mut [0u8])? == 0 {
                return Ok(0);
            }
            self.over = true;
            return Err(std::io::Error::other("the answer is too long"));
        }
        let n = buf.len().min(self.left.try_into().unwrap_or(usize::MAX));
        let got = self.inner.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

/// Whether `q` is a plain series selector (`name{label="v"}`), which can be
/// read raw as a range vector.
fn is_selector(q: &str) -> bool {
    let q = q.trim();
    let name_end = q.find('{').unwrap_or(q.len());
    let name_ok = q[..name_end]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    let rest = &q[name_end..];
    name_ok
        && (rest.is_empty()
            || (rest.starts_with('{') && rest.ends_with('}') && rest.matches('}').count() == 1))
        && !q.is_empty()
}

/// `t` seconds rounded to a whole millisecond.
fn ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(query: &str, range_s: f64, step_s: f64) -> PromConfig {
        PromConfig {
            url: "http://127.0.0.1:9".into(),
            query: query.into(),
            range_s,
            token_file: None,
            end: Some(1e9),
            step_s,
            detector: DetectorConfig::default(),
            max_series: DEFAULT_MAX_SERIES,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    #[test]
    fn a_bucket_is_as_large_as_counted() {
        let mut d = Detector::new(DetectorConfig::default());
        (0..4 * MAX_BUCKETS).for_each(|i| d.push(i as f64, 1.0));
        assert!(d.state_bytes() <= size_of::<Detector>() + MAX_BUCKETS * BUCKET_BYTES);
    }

    #[test]
    fn query_range_chunks_stay_under_11000_points_and_over_the_floor() {
        let c = cfg("sum(x)", 6.0 * 3600.0, 1.0);
        let mut ch = Chunks::new(&c, 1e9);
        ch.advance(ch.next().unwrap().1, 0);
        ch.advance(ch.next().unwrap().1, 0);
        let (lo, hi) = ch.next().unwrap();
        assert!((hi - lo) / c.step_s < MAX_STEPS, "{}", hi - lo);
        while ch.shrink() {}
        assert_eq!(ch.len, CHUNK_FLOOR_S);
        // A step of 7 s: chunks are whole steps.
        let c = cfg("sum(x)", 6.0 * 3600.0, 7.0);
        let ch = Chunks::new(&c, 1e9);
        assert_eq!(ch.len % 7.0, 0.0);
    }

    #[test]
    fn the_state_budget_holds_for_every_series() {
        let c = cfg("x", 3600.0, 15.0);
        let mut f = Held::new(&c).unwrap();
        for i in 0..c.max_series {
            let labels = Labels::from([("i".to_string(), i.to_string())]);
            let d = f.admit(&labels).unwrap();
            f.series.insert(labels, d);
        }
        assert!(f.state <= STATE_BUDGET, "{}", f.state);
        assert_eq!(
            f.series.first_key_value().unwrap().1.capacity(),
            MAX_BUCKETS
        );
        assert!(f.admit(&Labels::new()).is_err());
        let mut big = cfg("x", 3600.0, 15.0);
        big.max_series = 10_000_000;
        assert!(Held::new(&big).is_err());
    }

    #[test]
    fn the_token_file_is_read_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok");
        std::fs::write(&ok, "abc.def\n").unwrap();
        assert_eq!(read_token(&ok).unwrap(), "abc.def");
        let bad = dir.path().join("bad");
        std::fs::write(&bad, "a\nb").unwrap();
        assert!(read_token(&bad).is_err());
        let e = read_token(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("--bearer-token-file"), "{e}");
    }
}
