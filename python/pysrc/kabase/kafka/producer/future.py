"""kafka-python's futures (``kafka.producer.future``) over the engine's send futures."""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional

from .. import errors as Errors
from ..structs import RecordMetadata, TopicPartition


# One lock for every future's completion and callback lists: completions are rare compared with
# sends, and a lock per future would cost more than the send itself.
_LOCK = threading.RLock()


class Future(object):
    """kafka-python's ``kafka.future.Future``: a value or an exception, plus callbacks."""

    error_on_callbacks = False
    _lock = _LOCK

    _done = False

    def __init__(self) -> None:
        self._done = False
        self.value: Any = None
        self.exception: Optional[BaseException] = None
        self._callbacks: List[Any] = []
        self._errbacks: List[Any] = []

    @property
    def is_done(self) -> bool:
        return self._done

    @is_done.setter
    def is_done(self, v: bool) -> None:
        self._done = v

    def succeeded(self) -> bool:
        return self.is_done and not bool(self.exception)

    def failed(self) -> bool:
        return self.is_done and bool(self.exception)

    def retriable(self) -> bool:
        return bool(getattr(self.exception, "retriable", False))

    def success(self, value: Any) -> "Future":
        with self._lock:
            if self._done:
                raise Errors.IllegalStateError("Future is already complete")
            self.value = value
            self._done = True
            cbs, self._callbacks, self._errbacks = self._callbacks, [], []
        for f in cbs:
            self._call(f, value)
        return self

    def failure(self, e: BaseException) -> "Future":
        with self._lock:
            if self._done:
                raise Errors.IllegalStateError("Future is already complete")
            self.exception = e if isinstance(e, BaseException) else e()
            self._done = True
            ebs, self._callbacks, self._errbacks = self._errbacks, [], []
        for f in ebs:
            self._call(f, self.exception)
        return self

    def _call(self, f: Callable[..., Any], arg: Any) -> None:
        try:
            f(arg)
        except Exception:
            import logging

            logging.getLogger("kafka.future").exception("Error processing callback")
            if self.error_on_callbacks:
                raise

    def add_callback(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> "Future":
        if args or kwargs:
            import functools

            f = functools.partial(f, *args, **kwargs)
        self._before_callbacks()
        with self._lock:
            if not self._done:
                if type(self._callbacks) is not list:
                    self._callbacks = []
                self._callbacks.append(f)
                return self
        if self.succeeded():
            self._call(f, self.value)
        return self

    def add_errback(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> "Future":
        if args or kwargs:
            import functools

            f = functools.partial(f, *args, **kwargs)
        self._before_callbacks()
        with self._lock:
            if not self._done:
                if type(self._errbacks) is not list:
                    self._errbacks = []
                self._errbacks.append(f)
                return self
        if self.failed():
            self._call(f, self.exception)
        return self

    def add_both(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> "Future":
        self.add_callback(f, *args, **kwargs)
        self.add_errback(f, *args, **kwargs)
        return self

    def chain(self, future: "Future") -> "Future":
        self.add_callback(future.success)
        self.add_errback(future.failure)
        return self

    def _before_callbacks(self) -> None:
        pass


class FutureRecordMetadata(Future):
    """What ``KafkaProducer.send`` returns: ``get(timeout)`` gives a :class:`RecordMetadata`.

    Callbacks run when the result is known: at once if it already is, else when ``get()``,
    ``flush()`` or ``close()`` collects it (the engine completes sends without a network thread).
    """

    # Cheap construction (one per send): the state starts as these class attributes and the
    # callback lists are made on the first add_callback/add_errback.
    _done = False
    value = None
    exception = None
    _callbacks: Any = ()
    _errbacks: Any = ()

    def __init__(self, native: Any, producer: Any) -> None:
        self._native = native
        self._producer = producer

    def _resolve(self, timeout: Optional[float]) -> None:
        if self._done:
            return
        try:
            t = self._native.get(timeout)
        except BaseException as e:  # noqa: BLE001 - becomes the future's failure
            err = Errors.translate(e)
            if isinstance(err, Errors.KafkaTimeoutError):
                raise err
            with self._lock:
                done = self._done
            if not done:
                self.failure(err)
            return
        with self._lock:
            done = self._done
        if not done:
            topic, partition, offset, timestamp, ksize, vsize, hsize = t
            self.success(RecordMetadata(topic, partition, TopicPartition(topic, partition), offset,
                                        timestamp, None, ksize, vsize, hsize))

    def _before_callbacks(self) -> None:
        if not self._done and self._native.is_done():
            self._resolve(None)
        if not self._done:
            self._producer._track(self)

    @property
    def is_done(self) -> bool:  # type: ignore[override]
        """Whether the result is in (collected from the engine on first look)."""
        if not self._done and self._native.is_done():
            self._resolve(None)
        return self._done

    @is_done.setter
    def is_done(self, v: bool) -> None:
        self._done = v

    def get(self, timeout: Optional[float] = None) -> RecordMetadata:
        """Wait (at most ``timeout`` seconds) for the record's metadata; raise its error."""
        if not self._done:
            self._resolve(timeout)
        if not self._done:
            raise Errors.KafkaTimeoutError("Timeout after waiting for %s secs." % (timeout,))
        if self.failed():
            raise self.exception  # type: ignore[misc]
        return self.value


__all__ = ["Future", "FutureRecordMetadata", "RecordMetadata"]
