//! A log's body parsed on worker threads and handed back in file order.
//!
//! One thread reads the input in pieces of about [`PIECE`] bytes that end at
//! a line's end and deals them to the workers in turn; each worker parses
//! its pieces into rows of numbers ([`Batch`]); the reader of the log takes
//! the batches back in the same turn, so rows come in file order. Memory
//! stays bounded: each channel holds one piece or batch. Line numbers are
//! counted by the taker, who alone knows how many lines came before a piece.

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
    from: Vec<Receiver<Batch>>,
    turn: usize,
}

impl Pipeline {
    /// Starts reading `input`, `piece` bytes at a time (and what is left of
    /// a line from the piece before), and parsing it with `parse` on
    /// `workers` threads.
    pub fn start<R: Read + Send + 'static>(
        input: R,
        piece: usize,
        workers: usize,
        parse: impl ParseLine,
    ) -> Pipeline {
        let workers = workers.max(1);
        let mut to = Vec::with_capacity(workers);
        let mut from = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (piece_tx, piece_rx) = sync_channel::<Piece>(1);
            let (batch_tx, batch_rx) = sync_channel::<Batch>(1);
            let parse = parse.clone();
            std::thread::spawn(move || work(&piece_rx, &batch_tx, parse));
            to.push(piece_tx);
            from.push(batch_rx);
        }
        let piece = piece.max(1);
        std::thread::spawn(move || deal(input, piece, &to));
        Pipeline { from, turn: 0 }
    }

    /// The next batch; after one with a `stop`, none.
    pub fn next_batch(&mut self) -> Option<Batch> {
        let b = self.from[self.turn % self.from.len()].recv().ok()?;
        self.turn += 1;
        Some(b)
    }
}

/// Reads `input` in pieces that end at a line's end and deals them to the
/// workers in turn, until the input ends, fails or nobody takes them.
fn deal<R: Read>(mut input: R, piece: usize, to: &[SyncSender<Piece>]) {
    let mut dealt = 0usize;
    let mut send = |p: Piece| {
        dealt += 1;
        to[(dealt - 1) % to.len()].send(p).is_ok()
    };
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut buf = Vec::with_capacity(piece + carry.len());
        buf.append(&mut carry);
        let want = piece as u64;
        let got = match (&mut input).take(want).read_to_end(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                // The lines read before the failure first.
                let partial = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                buf.truncate(partial);
                let _ = send(Piece::Lines(buf)) && send(Piece::Read(e));
                return;
            }
        };
        if (got as u64) < want {
            let _ = send(Piece::Last(buf));
            return;
        }
        match memchr::memrchr(b'\n', &buf) {
            Some(i) => {
                carry.extend_from_slice(&buf[i + 1..]);
                buf.truncate(i + 1);
                if !send(Piece::Lines(buf)) {
                    return;
                }
            }
            None if buf.len() > MAX_LINE => {
                let _ = send(Piece::Long);
                return;
            }
            None => carry = buf,
        }
    }
}

/// Parses each piece dealt to this worker into a batch, until either side
/// hangs up.
fn work(pieces: &Receiver<Piece>, batches: &SyncSender<Batch>, mut parse: impl ParseLine) {
    while let Ok(piece) = pieces.recv() {
        let batch = match piece {
            Piece::Lines(text) => parse_piece(&text, false, &mut parse),
            Piece::Last(text) => parse_piece(&text, true, &mut parse),
            Piece::Long => Batch {
                stop: Some(Stop::Long(1)),
                ..Batch::default()
            },
            Piece::Read(e) => Batch {
                stop: Some(Stop::Read(e)),
                ..Batch::default()
            },
        };
        if batches.send(batch).is_err() {
            return;
        }
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
