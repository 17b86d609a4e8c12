"""Graphs for the event-streaming (v2) client tests: `slowchat` and `tools`.

`slowchat` is a `MessagesState` chatbot whose offline chat model streams its answer one word
at a time with a pause before each word, so a browser test can stop the run, reload the page
or open a second tab while tokens are still arriving. The pause and the answer's length come
from the input (`delay` seconds, `words` count), so each test picks what it needs; the answer
always ends with the word `[end]`, which tells a test the whole answer arrived.

`tools` is a tool-calling agent (scripted offline model + ToolNode) compiled with stream
transformers, so that v2 streams carry the `tools` channel and a named custom channel
(`custom:toolCallCount`) for Python graphs too.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolCallTransformer, ToolNode, tools_condition
from langgraph.stream import StreamChannel, StreamTransformer


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


# -- `tools`: a tool-calling agent, for the `tools` channel and a named custom channel ----------


@tool
def get_weather(city: str) -> str:
    """Tell the weather in a city."""
    return f"It is sunny in {city}."


class ScriptedToolModel(BaseChatModel):
    """An offline chat model that first asks for `get_weather(city=Paris)`, streaming the call's
    arguments in two pieces, then answers with the tool's result once it has it."""

    @property
    def _llm_type(self) -> str:
        return "scripted-tool"

    def bind_tools(self, tools: Any, **kwargs: Any) -> "ScriptedToolModel":
        return self  # the script already knows its one tool

    def _chunks(self, messages: list[BaseMessage]) -> list[AIMessageChunk]:
        if messages and isinstance(messages[-1], ToolMessage):
            words = f"The weather: {messages[-1].text}".split(" ")
            return [AIMessageChunk(content=w if i == 0 else " " + w) for i, w in enumerate(words)]
        call = {"name": "get_weather", "id": "call-weather-1", "index": 0, "type": "tool_call_chunk"}
        # An empty closing chunk: marked last, a chunk's tool call chunks would be parsed whole.
        return [AIMessageChunk(content="", tool_call_chunks=[{**call, "args": '{"city": "Pa'}]),
                AIMessageChunk(content="", tool_call_chunks=[{**call, "name": None, "id": None, "args": 'ris"}'}]),
                AIMessageChunk(content="")]

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        whole = sum(self._chunks(messages)[1:], self._chunks(messages)[0])
        return ChatResult(generations=[ChatGeneration(message=AIMessage(
            content=whole.content, tool_calls=whole.tool_calls))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        chunks = self._chunks(messages)
        for i, message in enumerate(chunks):
            if i == len(chunks) - 1:
                message.chunk_position = "last"
            yield ChatGenerationChunk(message=message)


class ToolCallCount(StreamTransformer):
    """A named custom channel (`custom:toolCallCount`): how many tool calls have finished."""

    required_stream_modes = ("tools",)

    def __init__(self, scope: tuple[str, ...] = ()) -> None:
        super().__init__(scope)
        self.channel: StreamChannel[int] = StreamChannel("toolCallCount")
        self.count = 0

    def init(self) -> dict[str, Any]:
        return {"toolCallCount": self.channel}

    def process(self, event: Any) -> bool:
        if event["method"] == "tools" and event["params"]["data"].get("event") == "tool-finished":
            self.count += 1
            self.channel.push(self.count)
        return True


def agent(state: MessagesState):
    return {"messages": [ScriptedToolModel().invoke(state["messages"])]}


tools = (
    StateGraph(MessagesState)
    .add_node(agent)
    .add_node("tools", ToolNode([get_weather]))
    .add_edge(START, "agent")
    .add_conditional_edges("agent", tools_condition)
    .add_edge("tools", "agent")
    # ToolCallTransformer: the Python reference emits the `tools` channel only with it.
    .compile(transformers=[ToolCallTransformer, ToolCallCount])
)
