//! The send pipeline behind `Producer.send`'s common case.
//!
//! A plain `send(topic, value, key)` from Python only queues the record here, under a short
//! uncontended lock and without giving up the GIL, and returns a future at once. A hand-off
//! thread takes the queue in batches and passes each record to the core producer in order, so
//! the core's per-record work runs beside the Python loop instead of inside it. Every record a
//! caller queued is handed over in queue order, before any later send that bypasses the queue
//! (headers, explicit partition or timestamp, transactions), and before `flush`/`close` return.
//!
//! Errors the core reports for a queued record (an oversized record, a bad topic name, a closed
//! producer) complete that record's future with the error, as a broker's answer completes a
//! Kafka client's future. The queue is bounded: a sender that finds it full waits for room with
//! the GIL released.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kabase::log::{Producer, ProducerRecord, RecordMetadata, SendFuture};
use kabase::{Error, ErrorCode};
use parking_lot::{Condvar, Mutex};

use crate::engine::Release;

/// Most records waiting in the queue before senders wait for room.
const MAX_QUEUED: usize = 65_536;
/// Most value and key bytes waiting in the queue before senders wait for room.
const MAX_QUEUED_BYTES: usize = 16 << 20;

/// The future of a queued record: empty until the hand-off thread passed it to the core.
pub(crate) struct Pending {
    state: Mutex<Option<Result<SendFuture, Error>>>,
    cond: Condvar,
}

impl Pending {
    fn set(&self, r: Result<SendFuture, Error>) {
        *self.state.lock() = Some(r);
        self.cond.notify_all();
    }

    /// Whether the record's result is in.
    pub(crate) fn is_done(&self) -> bool {
        match &*self.state.lock() {
            Some(Ok(f)) => f.is_done(),
            Some(Err(_)) => true,
            None => false,
        }
    }

    /// Wait for the record's result, at most until `deadline`.
    pub(crate) fn get(&self, deadline: Option<Instant>) -> Result<RecordMetadata, Error> {
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
    items: Vec<(ProducerRecord, Arc<Pending>)>,
    bytes: usize,
    /// The hand-off thread is passing a batch to the core.
    busy: bool,
    stop: bool,
    started: bool,
}

/// One producer's queue and hand-off thread.
pub(crate) struct Pipe {
    /// Emptied when the engine closes (the queued records then fail with `Closed`).
    producer: Mutex<Option<Arc<Producer>>>,
    q: Mutex<Queue>,
    /// Signalled when records arrive, room frees up, or a batch was handed over.
    cond: Condvar,
}

impl Pipe {
    pub(crate) fn new(producer: Arc<Producer>) -> Arc<Pipe> {
        Arc::new(Pipe { producer: Mutex::new(Some(producer)), q: Mutex::new(Queue::default()), cond: Condvar::new() })
    }

    /// Queue a record when there is room; `None` when the queue is full (the caller waits with
    /// [`Pipe::push_blocking`] after releasing the GIL) .
    pub(crate) fn try_push(self: &Arc<Self>, r: ProducerRecord) -> Result<Result<Arc<Pending>, ProducerRecord>, Error> {
        let mut q = self.q.lock();
        if q.stop {
            return Err(Error::closed("producer"));
        }
        if q.items.len() >= MAX_QUEUED || q.bytes >= MAX_QUEUED_BYTES {
            return Ok(Err(r));
        }
        Ok(Ok(self.push_locked(&mut q, r)?))
    }

    /// Queue a record, waiting for room.
    pub(crate) fn push_blocking(self: &Arc<Self>, r: ProducerRecord) -> Result<Arc<Pending>, Error> {
        let mut q = self.q.lock();
        while !q.stop && (q.items.len() >= MAX_QUEUED || q.bytes >= MAX_QUEUED_BYTES) {
            self.cond.wait(&mut q);
        }
        if q.stop {
            return Err(Error::closed("producer"));
        }
        self.push_locked(&mut q, r)
    }

    fn push_locked(self: &Arc<Self>, q: &mut Queue, r: ProducerRecord) -> Result<Arc<Pending>, Error> {
        if !q.started {
            let me = Arc::clone(self);
            std::thread::Builder::new()
                .name("kabase-py-send".into())
                .spawn(move || me.run())
                .map_err(|e| Error::io("start the send hand-off thread", e))?;
            q.started = true;
        }
        let p = Arc::new(Pending { state: Mutex::new(None), cond: Condvar::new() });
        q.bytes += r.value.as_ref().map_or(0, Vec::len) + r.key.as_ref().map_or(0, Vec::len);
        let wake = q.items.is_empty();
        q.items.push((r, Arc::clone(&p)));
        if wake {
            self.cond.notify_all();
        }
        Ok(p)
    }

    /// Wait until every queued record was handed to the core (at most until `deadline`).
    pub(crate) fn drain(&self, deadline: Option<Instant>) -> Result<(), Error> {
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
    pub(crate) fn stop(&self) {
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
            for (r, p) in batch {
                p.set(match &producer {
                    Some(prod) => prod.send(r),
                    None => Err(Error::closed("producer")),
                });
            }
            self.q.lock().busy = false;
            self.cond.notify_all();
        }
    }
}

impl Release for Pipe {
    fn release(&self) {
        self.stop();
        let p = self.producer.lock().take();
        drop(p);
    }
}

/// Deadline of an optional timeout.
pub(crate) fn deadline(t: Option<Duration>) -> Option<Instant> {
    t.map(|d| Instant::now() + d)
}
