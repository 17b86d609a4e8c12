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


def call_model(state: MyState):
    """Call the (fake) LLM to generate a joke about a topic. A real graph would build its
    model once (`init_chat_model(...)`); the fake one is made per call to know its reply."""
    reply = AIMessage(content=f"Why did the {state.topic} cross the road? To get to the other side!")
    model = GenericFakeChatModel(messages=iter([reply]))
    response = model.invoke([{"role": "user", "content": f"Generate a joke about {state.topic}"}])
    return {"joke": response.content}


graph = StateGraph(MyState).add_node(call_model).add_edge(START, "call_model").compile()
