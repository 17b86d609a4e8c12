"""A chat graph on the bundled langchain + langchain-openai, talking to an OpenAI-compatible
server at OPENAI_BASE_URL (Ollama, llama.cpp or vLLM in real life; the smoke test's fake
one here). The model is built at import, as users write it."""

import os

from langchain.chat_models import init_chat_model
from langgraph.graph import START, MessagesState, StateGraph

model = init_chat_model(
    "openai:local-model",
    base_url=os.environ.get("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
    api_key=os.environ.get("OPENAI_API_KEY", "not-needed"),
)


def chat(state: MessagesState):
    return {"messages": [model.invoke(state["messages"])]}


graph = StateGraph(MessagesState).add_node(chat).add_edge(START, "chat").compile()
