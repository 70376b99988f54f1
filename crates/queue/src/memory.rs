//! `memory://`: a queue inside this process, for embedded single-process runs.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{Delivery, DeliveryHandle, DeliveryPolicy, JobQueue, QueueError};

/// `memory://`: jobs live in this process and are lost when it exits.
///
/// It follows SQS's model so that the embedded run behaves like the cloud one: a received
/// job is invisible until acked, released, or its visibility timeout passes; a job already
/// received [`DeliveryPolicy::max_receives`] times is moved to the dead-letter list the
/// next time it would be delivered. Time is tokio's, so tests can pause it.
#[derive(Debug)]
pub struct MemoryQueue {
    policy: DeliveryPolicy,
    state: Mutex<State>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    next_lease: u64,
    /// Ids of jobs that can be delivered, oldest first.
    visible: VecDeque<u64>,
    messages: HashMap<u64, Message>,
    /// Lease deadlines, earliest first; stale entries (acked or re-leased) are skipped.
    leases: BinaryHeap<Reverse<(Instant, u64, u64)>>,
    dead: Vec<Vec<u8>>,
}

#[derive(Debug)]
struct Message {
    body: Vec<u8>,
    receives: u32,
    /// The current lease's token, while the job is held by a receiver.
    lease: Option<u64>,
}

impl MemoryQueue {
    /// An empty queue with `policy`.
    pub fn new(policy: DeliveryPolicy) -> Self {
        Self {
            policy,
            state: Mutex::new(State::default()),
            ready: Notify::new(),
        }
    }

    /// Jobs waiting or held (not yet acked or dead-lettered).
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    /// Whether no job is waiting or held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every change is one step).
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes up to `max` deliveries now; also returns when the next lease expires.
    fn take(&self, max: usize) -> (Vec<Delivery>, Option<Instant>) {
        let now = Instant::now();
        let mut state = self.lock();
        let state = &mut *state;
        // Leases past their deadline make their job visible again, in deadline order.
        while let Some(Reverse((deadline, id, token))) = state.leases.peek().copied() {
            if deadline > now {
                break;
            }
            state.leases.pop();
            if let Some(message) = state.messages.get_mut(&id)
                && message.lease == Some(token)
            {
                message.lease = None;
                state.visible.push_back(id);
            }
        }
        let mut out = Vec::new();
        while out.len() < max {
            let Some(id) = state.visible.pop_front() else {
                break;
            };
            let Some(message) = state.messages.get_mut(&id) else {
                continue;
            };
            if message.receives >= self.policy.max_receives {
                if let Some(message) = state.messages.remove(&id) {
                    state.dead.push(message.body);
                }
                continue;
            }
            message.receives += 1;
            state.next_lease += 1;
            let token = state.next_lease;
            message.lease = Some(token);
            state
                .leases
                .push(Reverse((now + self.policy.visibility_timeout, id, token)));
            out.push(Delivery {
                body: message.body.clone(),
                receive_count: message.receives,
                message_id: id.to_string(),
                handle: DeliveryHandle::Memory(id, token),
            });
        }
        let next_expiry = state
            .leases
            .peek()
            .map(|Reverse((deadline, _, _))| *deadline);
        (out, next_expiry)
    }

    fn handle(delivery: &Delivery) -> Result<(u64, u64), QueueError> {
        match delivery.handle {
            DeliveryHandle::Memory(id, token) => Ok((id, token)),
            #[allow(unreachable_patterns)]
            _ => Err(QueueError::unavailable(
                "memory",
                "a delivery from another queue was given to the memory queue",
            )),
        }
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn send_body(&self, body: &[u8]) -> Result<(), QueueError> {
        {
            let mut state = self.lock();
            state.next_id += 1;
            let id = state.next_id;
            state.messages.insert(
                id,
                Message {
                    body: body.to_vec(),
                    receives: 0,
                    lease: None,
                },
            );
            state.visible.push_back(id);
        }
        self.ready.notify_one();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let give_up = Instant::now() + wait;
        loop {
            // Registered before looking, so that a send between the look and the wait wakes us.
            let notified = self.ready.notified();
            let (batch, next_expiry) = self.take(max);
            if !batch.is_empty() || Instant::now() >= give_up {
                if !batch.is_empty() && !self.lock().visible.is_empty() {
                    // More is waiting: pass the wake-up on to another receiver.
                    self.ready.notify_one();
                }
                return Ok(batch);
            }
            let until = next_expiry.map_or(give_up, |expiry| expiry.min(give_up));
            let _ = tokio::time::timeout_at(until, notified).await;
        }
    }

    async fn ack(&self, delivery: Delivery) -> Result<(), QueueError> {
        let (id, _) = Self::handle(&delivery)?;
        // A late ack (after the lease expired) still removes the job: its work is done,
        // and the done counter absorbs the redelivery that may already be running.
        self.lock().messages.remove(&id);
        Ok(())
    }

    async fn release(&self, delivery: Delivery) -> Result<(), QueueError> {
        let (id, token) = Self::handle(&delivery)?;
        {
            let mut state = self.lock();
            let state = &mut *state;
            match state.messages.get_mut(&id) {
                Some(message) if message.lease == Some(token) => {
                    message.lease = None;
                    state.visible.push_back(id);
                }
                // Acked meanwhile, or already redelivered: nothing to give back.
                _ => return Ok(()),
            }
        }
        self.ready.notify_one();
        Ok(())
    }

    async fn drain_dead_letters(&self) -> Result<Vec<Vec<u8>>, QueueError> {
        Ok(std::mem::take(&mut self.lock().dead))
    }

    async fn delete(&self) -> Result<(), QueueError> {
        *self.lock() = State::default();
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
