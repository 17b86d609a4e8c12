"""Graphs for the event-streaming (v2) client tests: a chat model slow enough to act on mid-run.

`slowchat` is a `MessagesState` chatbot whose offline chat model streams its answer one word
at a time with a pause before each word, so a browser test can stop the run, reload the page
or open a second tab while tokens are still arriving. The pause and the answer's length come
from the input (`delay` seconds, `words` count), so each test picks what it needs; the answer
always ends with the word `[end]`, which tells a test the whole answer arrived.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langgraph.graph import START, MessagesState, StateGraph


class SlowEchoModel(BaseChatModel):
    """An offline chat model: echoes the last message, then counts words, pausing per word."""

    delay: float = 0.1
    words: int = 20

    @property
    def _llm_type(self) -> str:
        return "slow-echo"

    def _tokens(self, messages: list[BaseMessage]) -> list[str]:
        said = messages[-1].text if messages else ""
        words = [f"You said: {said}."] + [f"word{i}" for i in range(1, self.words + 1)] + ["[end]"]
        return [w if i == 0 else " " + w for i, w in enumerate(words)]

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="".join(self._tokens(messages))))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        raise NotImplementedError("slowchat streams asynchronously only, so that cancelling it is prompt")

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        # Slow without a streaming handler too: a run must last as long either way.
        text = "".join([chunk.message.text async for chunk in self._astream(messages)])
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        tokens = self._tokens(messages)
        for i, token in enumerate(tokens):
            await asyncio.sleep(self.delay)  # the pause a test acts in; cancellable
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=token))
            if i == len(tokens) - 1:
                chunk.message.chunk_position = "last"
            if run_manager:
                await run_manager.on_llm_new_token(token, chunk=chunk)
            yield chunk


class SlowChatState(MessagesState, total=False):
    delay: float
    words: int


async def respond(state: SlowChatState):
    model = SlowEchoModel(delay=state.get("delay", 0.1), words=state.get("words", 20))
    # ainvoke, not astream: under v2 only invoke routes a model through the content-block
    # event path that feeds the `messages` channel (astream fires the v1 callbacks only).
    return {"messages": [await model.ainvoke(state["messages"])]}


slowchat = StateGraph(SlowChatState).add_node(respond).add_edge(START, "respond").compile()
