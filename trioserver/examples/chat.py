"""A chat graph on `MessagesState` (served as `chat`): what chat UIs expect to talk to.

It answers with langchain-core's fake chat model, token by token, so it works offline;
swap in a real model (`init_chat_model(...)`) and it is a real chatbot.
"""

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.graph import START, MessagesState, StateGraph


def respond(state: MessagesState):
    said = state["messages"][-1].content if state["messages"] else ""
    model = GenericFakeChatModel(messages=iter([AIMessage(content=f"You said: {said}")]))
    return {"messages": [model.invoke(state["messages"])]}


graph = StateGraph(MessagesState).add_node(respond).add_edge(START, "respond").compile()
