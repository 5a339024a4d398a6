"""Proactive delivery: the dispatcher that sends the outbox's rows, Teams' rate limits, what
a failed send means, and what each kind of message says."""

from bot.delivery.dispatcher import DeliveryReport, Dispatcher
from bot.delivery.failures import SendFailure, classify
from bot.delivery.limiter import RateLimiter

__all__ = ["DeliveryReport", "Dispatcher", "RateLimiter", "SendFailure", "classify"]
