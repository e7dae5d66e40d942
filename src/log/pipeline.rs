//! A log's body parsed on worker threads and handed back in file order.
//!
//! One thread reads the input in pieces of about [`PIECE`] bytes that end at
//! a line's end and deals them to the workers in turn; each worker parses
//! its pieces into rows of numbers ([`Batch`]); the reader of the log takes
//! the batches back in the same turn, so rows come in file order. Memory
//! stays bounded: each channel holds one piece or batch. Line numbers are
//! counted by the taker, who alone knows how many lines came before a piece.
//! Where no thread can be started, each piece is read and parsed when the
//! reader asks for its batch, with the same result.

use super::lines::MAX_LINE;
use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// The size of a piece read at a time (besides what is left of a line
/// from the piece before).
pub const PIECE: usize = 1 << 20;

/// Parses one line (no newline, no `\r`) into the slots of one row, appended
/// to `vals`; `false` for a line that is no row (the caller's slow path then
/// says why).
pub trait ParseLine: FnMut(&[u8], &mut Vec<f64>) -> bool + Send + Clone + 'static {}
impl<F: FnMut(&[u8], &mut Vec<f64>) -> bool + Send + Clone + 'static> ParseLine for F {}

/// What ended a batch early, or the input.
#[derive(Debug)]
pub enum Stop {
    /// The input ended after the batch's lines.
    End,
    /// The input's last line has no newline and is not blank: a row cut
    /// short.
    Cut,
    /// Line `rel` of the batch (1-based) is no row: its text, for the slow
    /// path to say why.
    Bad(u32, Vec<u8>),
    /// Line `rel` of the batch is longer than [`MAX_LINE`].
    Long(u32),
    /// Reading failed after the batch's lines.
    Read(std::io::Error),
}

/// The rows of one piece.
#[derive(Debug, Default)]
pub struct Batch {
    /// Each row's slots, `stride` values a row.
    pub vals: Vec<f64>,
    /// Each row's line within the piece (1-based).
    pub lines: Vec<u32>,
    /// The complete lines of the piece (rows, blank lines).
    pub nlines: u32,
    /// What ended it early; `None` when more pieces follow.
    pub stop: Option<Stop>,
}

/// What the reading thread deals out.
enum Piece {
    /// Whole lines, each ending with a newline.
    Lines(Vec<u8>),
    /// The input's end: whole lines, then perhaps one without a newline.
    Last(Vec<u8>),
    /// A line longer than [`MAX_LINE`] starts after the lines dealt so far.
    Long,
    /// Reading failed after the lines dealt so far.
    Read(std::io::Error),
}

/// The batches of a log's body, in file order.
pub struct Pipeline {
    mode: Mode,
}

/// On worker threads, or (where none can be started) on the caller's.
enum Mode {
    Threads {
        from: Vec<Receiver<Batch>>,
        turn: usize,
    },
    Inline(Box<dyn FnMut() -> Option<Batch> + Send>),
}

impl Pipeline {
    /// Starts reading `input`, `piece` bytes at a time (and what is left of
    /// a line from the piece before), and parsing it with `parse` on
    /// `workers` threads; with none (or where a thread cannot be started),
    /// each piece is read and parsed when its batch is asked for.
    pub fn start<R: Read + Send + 'static>(
        input: R,
        piece: usize,
        workers: usize,
        parse: impl ParseLine,
    ) -> Pipeline {
        let cutter = Cutter {
            input,
            piece: piece.max(1),
            carry: Vec::new(),
            queued: None,
            ended: false,
        };
        match threads(cutter, workers, parse.clone()) {
            Ok(from) => Pipeline {
                mode: Mode::Threads { from, turn: 0 },
            },
            Err(mut cutter) => {
                let mut parse = parse;
                Pipeline {
                    mode: Mode::Inline(Box::new(move || {
                        Some(batch_of(cutter.next_piece()?, &mut parse))
                    })),
                }
            }
        }
    }

    /// The next batch; after one with a `stop`, none.
    pub fn next_batch(&mut self) -> Option<Batch> {
        match &mut self.mode {
            Mode::Threads { from, turn } => {
                let b = from[*turn % from.len()].recv().ok()?;
                *turn += 1;
                Some(b)
            }
            Mode::Inline(next) => next(),
        }
    }
}

/// Starts a thread that deals `cutter`'s pieces to `workers` threads that
/// parse them: the workers' batches, to take in turn. The cutter back when
/// no thread is wanted or one cannot be started.
fn threads<R: Read + Send + 'static>(
    cutter: Cutter<R>,
    workers: usize,
    parse: impl ParseLine,
) -> Result<Vec<Receiver<Batch>>, Cutter<R>> {
    if workers == 0 {
        return Err(cutter);
    }
    // The dealer gets the cutter once every thread has started.
    let (hand_tx, hand_rx) = sync_channel::<(Cutter<R>, Vec<SyncSender<Piece>>)>(1);
    let dealer = std::thread::Builder::new()
        .name("log reader".into())
        .spawn(move || {
            if let Ok((mut cutter, to)) = hand_rx.recv() {
                deal(&mut cutter, &to);
            }
        });
    if dealer.is_err() {
        return Err(cutter);
    }
    let mut to = Vec::with_capacity(workers);
    let mut from = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (piece_tx, piece_rx) = sync_channel::<Piece>(1);
        let (batch_tx, batch_rx) = sync_channel::<Batch>(1);
        let parse = parse.clone();
        let worker = std::thread::Builder::new()
            .name("log parser".into())
            .spawn(move || work(&piece_rx, &batch_tx, parse));
        if worker.is_err() {
            // Dropping the channels ends the threads started.
            return Err(cutter);
        }
        to.push(piece_tx);
        from.push(batch_rx);
    }
    match hand_tx.send((cutter, to)) {
        Ok(()) => Ok(from),
        Err(std::sync::mpsc::SendError((cutter, _))) => Err(cutter),
    }
}

/// Deals the pieces to the workers in turn, until the input ends, fails
/// or nobody takes them.
fn deal<R: Read>(cutter: &mut Cutter<R>, to: &[SyncSender<Piece>]) {
    let mut turn = 0;
    while let Some(p) = cutter.next_piece() {
        if to[turn % to.len()].send(p).is_err() {
            return;
        }
        turn += 1;
    }
}

/// Cuts an input into pieces that end at a line's end.
struct Cutter<R> {
    input: R,
    piece: usize,
    /// What is left of a line from the piece before.
    carry: Vec<u8>,
    /// A piece to hand out next (a read error after the lines before it).
    queued: Option<Piece>,
    ended: bool,
}

impl<R: Read> Cutter<R> {
    /// The next piece; none after the last (`Last`, `Long` or `Read`).
    fn next_piece(&mut self) -> Option<Piece> {
        if let Some(p) = self.queued.take() {
            return Some(p);
        }
        if self.ended {
            return None;
        }
        loop {
            let mut buf = Vec::with_capacity(self.piece + self.carry.len());
            buf.append(&mut self.carry);
            let want = self.piece as u64;
            let got = match (&mut self.input).take(want).read_to_end(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    // The lines read before the failure first.
                    self.ended = true;
                    let partial = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                    buf.truncate(partial);
                    self.queued = Some(Piece::Read(e));
                    return Some(Piece::Lines(buf));
                }
            };
            if (got as u64) < want {
                self.ended = true;
                return Some(Piece::Last(buf));
            }
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => {
                    self.carry.extend_from_slice(&buf[i + 1..]);
                    buf.truncate(i + 1);
                    return Some(Piece::Lines(buf));
                }
                None if buf.len() > MAX_LINE => {
                    self.ended = true;
                    return Some(Piece::Long);
                }
                None => self.carry = buf,
            }
        }
    }
}

/// Parses each piece dealt to this worker into a batch, until either side
/// hangs up.
fn work(pieces: &Receiver<Piece>, batches: &SyncSender<Batch>, mut parse: impl ParseLine) {
    while let Ok(piece) = pieces.recv() {
        if batches.send(batch_of(piece, &mut parse)).is_err() {
            return;
        }
    }
}

/// The batch of one piece.
fn batch_of(piece: Piece, parse: &mut impl ParseLine) -> Batch {
    let stop = |s: Stop| Batch {
        stop: Some(s),
        ..Batch::default()
    };
    match piece {
        Piece::Lines(text) => parse_piece(&text, false, parse),
        Piece::Last(text) => parse_piece(&text, true, parse),
        Piece::Long => stop(Stop::Long(1)),
        Piece::Read(e) => stop(Stop::Read(e)),
    }
}

/// The rows of `text`: whole lines, and with `last` perhaps one without a
/// newline at the end. Blank lines are skipped; the first line that is no
/// row ends the batch.
fn parse_piece(text: &[u8], last: bool, parse: &mut impl ParseLine) -> Batch {
    let mut b = Batch {
        vals: Vec::with_capacity(text.len() / 8),
        lines: Vec::with_capacity(text.len() / 48),
        ..Batch::default()
    };
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', text) {
        let raw = &text[start..nl];
        start = nl + 1;
        b.nlines += 1;
        if raw.len() > MAX_LINE {
            b.stop = Some(Stop::Long(b.nlines));
            return b;
        }
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if parse(line, &mut b.vals) {
            b.lines.push(b.nlines);
        } else if !blank(line) {
            b.stop = Some(Stop::Bad(b.nlines, line.to_vec()));
            return b;
        }
    }
    if last {
        let rest = &text[start..];
        b.stop = Some(if rest.len() > MAX_LINE {
            Stop::Long(b.nlines + 1)
        } else if blank(rest) {
            Stop::End
        } else {
            Stop::Cut
        });
    }
    b
}

/// Whether a line holds nothing but white space.
fn blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}
