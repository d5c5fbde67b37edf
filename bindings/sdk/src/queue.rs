//! A send queue in front of a [`Producer`], for hosts whose send loop must not do the core's
//! per-record work inline (Python's `Producer.send`).
//!
//! [`SendQueue::try_push`] only queues the record, under a short uncontended lock, and returns
//! a [`Pending`] future at once. A hand-off thread takes the queue in batches and passes each
//! record to the producer in order, so the core's per-record work runs beside the host's loop.
//! Every queued record is handed over in queue order; [`SendQueue::drain`] waits for that, so a
//! caller drains before a send that bypasses the queue and before flush or close.
//!
//! Errors the core reports for a queued record (an oversized record, a bad topic name, a closed
//! producer) complete that record's future with the error, as a broker's answer completes a
//! Kafka client's future. The queue is bounded: [`SendQueue::try_push`] reports a full queue,
//! and [`SendQueue::push_blocking`] waits for room.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kabase::{Error, ErrorCode, Result};
use parking_lot::{Condvar, Mutex};

use crate::{OutgoingRecord, Producer, RecordMetadata, SendFuture};

/// Most records waiting in the queue before senders wait for room.
const MAX_QUEUED: usize = 65_536;
/// Most value and key bytes waiting in the queue before senders wait for room.
const MAX_QUEUED_BYTES: usize = 16 << 20;

/// The future of a queued record: empty until the hand-off thread passed it to the core.
pub struct Pending {
    state: Mutex<Option<Result<SendFuture, Error>>>,
    cond: Condvar,
}

impl Pending {
    fn set(&self, r: Result<SendFuture, Error>) {
        *self.state.lock() = Some(r);
        self.cond.notify_all();
    }

    /// Whether the record's result is in.
    pub fn is_done(&self) -> bool {
        match &*self.state.lock() {
            Some(Ok(f)) => f.is_done(),
            Some(Err(_)) => true,
            None => false,
        }
    }

    /// Wait for the record's result, at most until `deadline`.
    pub fn get(&self, deadline: Option<Instant>) -> Result<RecordMetadata, Error> {
        let mut g = self.state.lock();
        while g.is_none() {
            match deadline {
                None => self.cond.wait(&mut g),
                Some(d) => {
                    if self.cond.wait_until(&mut g, d).timed_out() && g.is_none() {
                        return Err(Error::new(ErrorCode::Timeout, "record not acknowledged in time"));
                    }
                }
            }
        }
        match g.as_ref() {
            Some(Ok(f)) => match deadline {
                None => f.get(),
                Some(d) => f.get_timeout(d.saturating_duration_since(Instant::now())),
            },
            Some(Err(e)) => Err(Error::new(e.code(), e.message().to_string())),
            None => Err(Error::internal("pending send read before hand-off")),
        }
    }
}

#[derive(Default)]
struct Queue {
    items: Vec<(String, OutgoingRecord, Arc<Pending>)>,
    bytes: usize,
    /// The hand-off thread is passing a batch to the core.
    busy: bool,
    stop: bool,
    started: bool,
}

/// One producer's queue and hand-off thread.
pub struct SendQueue {
    /// Emptied when the engine closes (the queued records then fail with `Closed`).
    producer: Mutex<Option<Producer>>,
    q: Mutex<Queue>,
    /// Signalled when records arrive, room frees up, or a batch was handed over.
    cond: Condvar,
}

impl SendQueue {
    /// A queue in front of `producer` (its hand-off thread starts with the first record).
    pub fn new(producer: Producer) -> Arc<SendQueue> {
        Arc::new(SendQueue { producer: Mutex::new(Some(producer)), q: Mutex::new(Queue::default()), cond: Condvar::new() })
    }

    /// Queue a record when there is room; `None` when the queue is full (the caller waits with
    /// [`SendQueue::push_blocking`], e.g. after releasing a host lock)
    pub fn try_push(self: &Arc<Self>, topic: String, r: OutgoingRecord) -> Result<Result<Arc<Pending>, (String, OutgoingRecord)>, Error> {
        let mut q = self.q.lock();
        if q.stop {
            return Err(Error::closed("producer"));
        }
        if q.items.len() >= MAX_QUEUED || q.bytes >= MAX_QUEUED_BYTES {
            return Ok(Err((topic, r)));
        }
        Ok(Ok(self.push_locked(&mut q, topic, r)?))
    }

    /// Queue a record, waiting for room.
    pub fn push_blocking(self: &Arc<Self>, topic: String, r: OutgoingRecord) -> Result<Arc<Pending>, Error> {
        let mut q = self.q.lock();
        while !q.stop && (q.items.len() >= MAX_QUEUED || q.bytes >= MAX_QUEUED_BYTES) {
            self.cond.wait(&mut q);
        }
        if q.stop {
            return Err(Error::closed("producer"));
        }
        self.push_locked(&mut q, topic, r)
    }

    fn push_locked(self: &Arc<Self>, q: &mut Queue, topic: String, r: OutgoingRecord) -> Result<Arc<Pending>, Error> {
        if !q.started {
            let me = Arc::clone(self);
            std::thread::Builder::new()
                .name("kabase-send".into())
                .spawn(move || me.run())
                .map_err(|e| Error::io("start the send hand-off thread", e))?;
            q.started = true;
        }
        let p = Arc::new(Pending { state: Mutex::new(None), cond: Condvar::new() });
        q.bytes += r.value.as_ref().map_or(0, Vec::len) + r.key.as_ref().map_or(0, Vec::len);
        let wake = q.items.is_empty();
        q.items.push((topic, r, Arc::clone(&p)));
        if wake {
            self.cond.notify_all();
        }
        Ok(p)
    }

    /// Wait until every queued record was handed to the core (at most until `deadline`).
    pub fn drain(&self, deadline: Option<Instant>) -> Result<(), Error> {
        let mut q = self.q.lock();
        while !q.items.is_empty() || q.busy {
            match deadline {
                None => self.cond.wait(&mut q),
                Some(d) => {
                    if self.cond.wait_until(&mut q, d).timed_out() && (!q.items.is_empty() || q.busy) {
                        return Err(Error::new(ErrorCode::Timeout, "queued records were not handed over in time"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Stop taking records; the thread hands over what is queued and ends.
    pub fn stop(&self) {
        self.q.lock().stop = true;
        self.cond.notify_all();
    }

    fn run(self: Arc<Self>) {
        loop {
            let batch = {
                let mut q = self.q.lock();
                while q.items.is_empty() && !q.stop {
                    self.cond.wait(&mut q);
                }
                if q.items.is_empty() {
                    return;
                }
                q.busy = true;
                q.bytes = 0;
                let b = std::mem::take(&mut q.items);
                self.cond.notify_all(); // room for waiting senders
                b
            };
            let producer = self.producer.lock().clone();
            for (topic, r, p) in batch {
                p.set(match &producer {
                    Some(prod) => prod.send_async(topic, r),
                    None => Err(Error::closed("producer")),
                });
            }
            self.q.lock().busy = false;
            self.cond.notify_all();
        }
    }
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("handed_over", &self.state.lock().is_some()).finish()
    }
}

impl std::fmt::Debug for SendQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendQueue").field("queued", &self.q.lock().items.len()).finish()
    }
}

impl SendQueue {
    /// Stop taking records and drop the producer: records still queued fail with `Closed` (for
    /// hosts that release everything when the engine closes).
    pub fn release(&self) {
        self.stop();
        let p = self.producer.lock().take();
        drop(p);
    }

    /// Hand every queued record over, then flush the producer; at most `timeout`.
    pub fn flush(self: &Arc<Self>, timeout: Option<Duration>) -> Result<()> {
        let me = Arc::clone(self);
        bounded(timeout, "flush", move || {
            me.drain(None)?;
            me.producer()?.flush()
        })
    }

    /// Hand every queued record over, stop the queue and close the producer; at most
    /// `timeout` (the producer is closed for new records either way).
    pub fn close(self: &Arc<Self>, timeout: Option<Duration>) -> Result<()> {
        let me = Arc::clone(self);
        bounded(timeout, "close", move || {
            me.drain(None)?;
            me.stop();
            // A send that raced the stop is handed over by the thread before it ends.
            me.drain(None)?;
            me.producer()?.close()
        })
    }

    fn producer(&self) -> Result<Producer> {
        self.producer.lock().clone().ok_or_else(|| Error::closed("producer"))
    }
}

/// Deadline of an optional timeout.
pub fn deadline(t: Option<Duration>) -> Option<Instant> {
    t.map(|d| Instant::now() + d)
}

/// Run `f` (a flush or close) with a bounded wait: without a timeout inline; with one on a
/// helper thread, failing with `Timeout` when it has not finished in time (it then finishes in
/// the background; waiting on a flush never changes what it does).
pub(crate) fn bounded(t: Option<Duration>, what: &'static str, f: impl FnOnce() -> Result<()> + Send + 'static) -> Result<()> {
    let Some(t) = t else { return f() };
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("kabase-{what}"))
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| Error::io(format_args!("start the {what} thread"), e))?;
    match rx.recv_timeout(t) {
        Ok(r) => r,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(Error::new(ErrorCode::Timeout, format!("{what} did not finish within {:.3} s", t.as_secs_f64()))),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::internal(format!("the {what} thread ended without a result"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;

    fn rec(v: &str) -> OutgoingRecord {
        OutgoingRecord::value(v)
    }

    #[test]
    fn queued_records_arrive_in_order() {
        let e = Engine::open_in_memory().unwrap();
        e.create_topic("q", 1).unwrap();
        let q = SendQueue::new(e.producer(&[("linger.ms".into(), "0".into())]).unwrap());
        let pend: Vec<_> = (0..500).map(|i| q.try_push("q".into(), rec(&i.to_string())).unwrap().ok().unwrap()).collect();
        q.flush(Some(Duration::from_secs(10))).unwrap();
        assert!(pend.iter().all(|p| p.is_done()));
        let offsets: Vec<i64> = pend.iter().map(|p| p.get(None).unwrap().offset).collect();
        assert_eq!(offsets, (0..500).collect::<Vec<i64>>());
        let c = e.consumer(None, &[]).unwrap();
        c.subscribe(&["q".into()], true).unwrap();
        let mut got = Vec::new();
        while got.len() < 500 {
            got.extend(c.poll(1000, 1000).unwrap().records.into_iter().map(|r| r.value.unwrap()));
        }
        assert_eq!(got[499], b"499".to_vec());
        // A blocking push works the same way.
        let p = q.push_blocking("q".into(), rec("last")).unwrap();
        assert_eq!(p.get(deadline(Some(Duration::from_secs(10)))).unwrap().offset, 500);
        q.close(None).unwrap();
        assert_eq!(q.try_push("q".into(), rec("x")).unwrap_err().code(), ErrorCode::Closed);
    }

    #[test]
    fn errors_complete_the_future() {
        let e = Engine::open_in_memory().unwrap();
        let q = SendQueue::new(e.producer(&[]).unwrap());
        let bad = q.try_push("bad topic name".into(), rec("v")).unwrap().ok().unwrap();
        assert_eq!(bad.get(None).unwrap_err().code(), ErrorCode::InvalidName);
        q.drain(None).unwrap();
        q.release();
        assert_eq!(q.try_push("t".into(), rec("v")).unwrap_err().code(), ErrorCode::Closed);
        assert_eq!(q.flush(None).unwrap_err().code(), ErrorCode::Closed);
    }

    #[test]
    fn bounded_times_out() {
        let err = bounded(Some(Duration::from_millis(20)), "nap", || {
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err.code(), ErrorCode::Timeout);
        bounded(Some(Duration::from_secs(5)), "quick", || Ok(())).unwrap();
    }
}
