"""An offline chat graph: langchain-core's fake chat model streams a joke token by token
(served as `llm`), so `messages-tuple` works without an API key or a network."""

from dataclasses import dataclass

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.graph import START, StateGraph


@dataclass
class MyState:
    topic: str
    joke: str = ""


def _replies():
    while True:
        yield AIMessage(content="Why did the cat sit on the computer? To keep an eye on the mouse!")


model = GenericFakeChatModel(messages=_replies())


def call_model(state: MyState):
    """Call the (fake) LLM to generate a joke about a topic."""
    response = model.invoke([{"role": "user", "content": f"Generate a joke about {state.topic}"}])
    return {"joke": response.content}


graph = StateGraph(MyState).add_node(call_model).add_edge(START, "call_model").compile()
