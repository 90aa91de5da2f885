"""Dynamic session: replay a test user's ratings one at a time and watch variants adapt."""

import streamlit as st

from metarec.tasks.episodes import MAX_RATINGS, MIN_RATINGS
from metarec.ui import session, session_view
from metarec.ui.state import recommender_or_message, selected_dataset

PREFIX = "session"
REVEALED_KEY = f"{PREFIX}.revealed"
PLAYING_KEY = f"{PREFIX}.playing"
FULL_RUN_KEY = f"{PREFIX}.full_run"
# Items revealed before the latest change of order. They keep their place in the plan.
FIRST_KEY = f"{PREFIX}.first"
# Items of the plan that the page drew last, in the order of revealing.
PLAN_ITEMS_KEY = f"{PREFIX}.plan_items"
TOP_K = 10
# Wide enough for the slider's four stops and its label.
SLIDER_WIDTH_PX = 200

st.set_page_config(page_title="Dynamic session · metarec", layout="wide")
st.title("Dynamic session")
st.caption("Replay a held-out test user's ratings one at a time. After each rating every "
           "chosen variant adapts again; the page shows its top 10, how the list moved and "
           "how well it predicts the user's 10 held-out ratings so far.")

dataset = selected_dataset()
if dataset is None:
    st.stop()
recommender = recommender_or_message(dataset)
if recommender is None:
    st.stop()
tasks = session_view.held_out_tasks(dataset, recommender)
if not tasks:
    st.info("A replay needs a test user with more than 10 ratings: 10 are held out to "
            "score the top lists, and the rest are revealed one by one. No test user of "
            "these models has that many. Use data where more people rated more items, or "
            "enter ratings by hand on the New user page.")
    st.stop()


def restart():
    st.session_state[REVEALED_KEY] = 0
    st.session_state[FIRST_KEY] = []


def keep_revealed():
    # A new order applies to the ratings not yet revealed, so no progress is lost.
    revealed = st.session_state.get(REVEALED_KEY, 0)
    st.session_state[FIRST_KEY] = st.session_state.get(PLAN_ITEMS_KEY, [])[:revealed]


users = session.session_users(tasks, dataset)
labels = dict(zip(users["user_id"], users["label"]))
# The variants get a row of their own: beside the other two, five chosen variants
# scrolled out of sight and the user's label was cut.
# The label also splits the ratings into those to reveal and those held out.
user_column, order_column = st.columns([2, 1])
# The first user that evaluation scores, so that step K matches its K-shot task.
evaluated = users.index[users["evaluated"]]
user_id = user_column.selectbox("Test user", list(labels), format_func=labels.get,
                                index=int(evaluated[0]) if len(evaluated) else 0,
                                key=f"{PREFIX}.user", on_change=restart, persist_state="session",
                                help=f"Users the models never saw in training. By default, "
                                     f"'evaluate' scores only those with {MIN_RATINGS} to "
                                     f"{MAX_RATINGS} ratings. For them, step K of the random "
                                     f"order is evaluation's K-shot task.")
order = order_column.radio("Reveal the ratings", list(session.ORDERS),
                           format_func=session.ORDERS.get, key=f"{PREFIX}.order",
                           persist_state="session", on_change=keep_revealed,
                           help="A change applies to the ratings not yet revealed. Restart "
                                "to reveal all of them in the new order. The 10 held-out "
                                "ratings are a random draw in every order, as in evaluation, "
                                "so some may be older than the ratings revealed.")
variants = st.multiselect("Variants", recommender.variants,
                          default=recommender.featured_variants,
                          key=f"{PREFIX}.variants", persist_state="session")
if not variants:
    st.info("Choose at least one variant.")
    st.stop()

# After a change of data or models, remembered items may no longer be this user's.
support = set(tasks[user_id].support_items.tolist())
first = [item for item in st.session_state.get(FIRST_KEY, []) if item in support]
plan = session.session_plan(tasks[user_id], dataset, order, first=first)
st.session_state[PLAN_ITEMS_KEY] = [int(item) for item in plan.items]
if first:
    order_column.caption(f"The first {len(first)} ratings keep the order in which they "
                         "were revealed. Restart reveals all of them in this order.")
st.session_state.setdefault(REVEALED_KEY, 0)
st.session_state[REVEALED_KEY] = min(st.session_state[REVEALED_KEY], len(plan))
at_end = st.session_state[REVEALED_KEY] >= len(plan)
if at_end:
    # Autoplay stops at the last rating; the toggle is drawn below, so it may change here.
    st.session_state[PLAYING_KEY] = False


def step(by):
    st.session_state[REVEALED_KEY] = min(max(st.session_state[REVEALED_KEY] + by, 0), len(plan))


# A row that sizes each control to its label: in fixed columns at 1280 px the labels
# were cut to "Back …" and "Revea…".
buttons = st.container(horizontal=True, vertical_alignment="bottom")
buttons.button("Reveal next rating", type="primary", on_click=step, args=(1,),
               disabled=at_end)
buttons.button("Back one", on_click=step, args=(-1,),
               disabled=st.session_state[REVEALED_KEY] == 0)
buttons.button("Reveal all", on_click=step, args=(len(plan),), disabled=at_end)
buttons.button("Restart", on_click=restart)
buttons.toggle("Autoplay", key=PLAYING_KEY, disabled=at_end,
               help="Reveals one rating per interval until the last.")
interval = buttons.select_slider("Seconds per rating", [0.5, 1.0, 2.0, 3.0], value=1.0,
                                 key=f"{PREFIX}.interval", width=SLIDER_WIDTH_PX,
                                 persist_state="session",
                                 help="With many variants a step can take longer than "
                                      "this to draw, and autoplay then runs a few ratings "
                                      "ahead of the page. Stopping it shows where it got "
                                      "to. Choose fewer variants or more seconds to follow "
                                      "each step.")
st.session_state[FULL_RUN_KEY] = True


@st.fragment(run_every=interval if st.session_state.get(PLAYING_KEY) else None)
def replay():
    # A timer run reveals one more rating; a run of the whole page shows the current one.
    if not st.session_state.pop(FULL_RUN_KEY, False) and st.session_state.get(PLAYING_KEY):
        step(1)
    n = st.session_state[REVEALED_KEY]
    if st.session_state.get(PLAYING_KEY) and n >= len(plan):
        st.rerun()

    records = session_view.step_records(dataset, recommender, plan, n, variants,
                                        f"{PREFIX}.records", TOP_K)
    session_view.draw_step(dataset, recommender, plan, records, variants, n, PREFIX)

replay()
