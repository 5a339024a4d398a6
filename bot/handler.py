"""The Teams activity handler: what PerfBot does with each message it receives."""

from __future__ import annotations

from botbuilder.core import MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings

HELP = (
    "Hello, I'm PerfBot, the council's performance reporting assistant. "
    "I remind measure owners when their returns are due, take figures and commentary, "
    "and tell you at once how they rate against target."
)


class PerfBot(TeamsActivityHandler):
    """Answers people in Teams. One database session per incoming activity."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        await turn_context.send_activity(MessageFactory.text(HELP))
