"""The rule of a role menu click or choice, checked over generated menus and members."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pegasus.services.rolemenus import (
    MenuRules,
    MissingRequiredRole,
    NotOffered,
    OneRolePerGroup,
    OptionRule,
    RoleChange,
    TooManyRoles,
    choose,
    toggle,
)

ROLE_POOL = range(1, 16)  # role ids a member may hold; the menu offers some of them
REQUIRED = 99


@dataclass(frozen=True)
class Case:
    rules: MenuRules
    held: frozenset[int]


@st.composite
def cases(draw: st.DrawFn, *, required: bool | None = None) -> Case:
    offered = draw(st.lists(st.sampled_from(ROLE_POOL), min_size=1, max_size=8, unique=True))
    groups = st.one_of(st.none(), st.sampled_from(["colour", "region"]))
    options = tuple(OptionRule(role_id, draw(groups)) for role_id in offered)
    needs = draw(st.booleans()) if required is None else required
    rules = MenuRules(
        options=options,
        max_roles=draw(st.integers(min_value=0, max_value=len(options) + 1)),
        required_role_id=REQUIRED if needs else None,
    )
    held = set(draw(st.sets(st.sampled_from(ROLE_POOL))))
    if draw(st.booleans()):
        held.add(REQUIRED)
    return Case(rules, frozenset(held))


def menu_roles_of(rules: MenuRules, roles: frozenset[int]) -> frozenset[int]:
    return rules.role_ids & roles


def groups_held(rules: MenuRules, roles: frozenset[int]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for option in rules.options:
        if option.group is not None and option.role_id in roles:
            found.setdefault(option.group, set()).add(option.role_id)
    return found


def check_change_shape(rules: MenuRules, held: frozenset[int], change: RoleChange) -> None:
    assert change.add <= rules.role_ids and change.remove <= rules.role_ids
    assert not change.add & held, "adds only roles the member lacks"
    assert change.remove <= held, "removes only roles the member holds"
    assert not change.add & change.remove
    after = change.applied_to(held)
    assert after - rules.role_ids == held - rules.role_ids, "roles outside the menu untouched"


@settings(max_examples=400, deadline=None)
@given(cases(), st.data())
def test_a_click_changes_only_menu_roles_within_the_rules(case: Case, data: st.DataObject) -> None:
    rules, held = case.rules, case.held
    clicked = data.draw(st.sampled_from(sorted(rules.role_ids)))
    if rules.required_role_id is not None and rules.required_role_id not in held:
        with pytest.raises(MissingRequiredRole):
            toggle(rules, held, clicked)
        return
    group = rules.group_of(clicked)
    held_here = menu_roles_of(rules, held)
    swapped = {r for r in held_here if group is not None and rules.group_of(r) == group}
    over_cap = bool(rules.max_roles) and len(held_here - swapped) + 1 > rules.max_roles
    if clicked not in held and over_cap:
        with pytest.raises(TooManyRoles):
            toggle(rules, held, clicked)
        return
    change = toggle(rules, held, clicked)
    check_change_shape(rules, held, change)
    after = change.applied_to(held)
    if clicked in held:
        assert change == RoleChange(add=frozenset(), remove=frozenset({clicked}))
        return
    assert clicked in after
    if rules.max_roles:
        assert len(menu_roles_of(rules, after)) <= rules.max_roles
    if group is not None:
        assert groups_held(rules, after)[group] == {clicked}, "the group's other roles go"
    else:
        assert not change.remove


@settings(max_examples=300, deadline=None)
@given(cases(required=False), st.data())
def test_clicking_twice_gives_back_what_a_click_took(case: Case, data: st.DataObject) -> None:
    rules, held = case.rules, case.held
    lacking = sorted(rules.role_ids - held)
    assume(lacking)
    clicked = data.draw(st.sampled_from(lacking))
    try:
        first = toggle(rules, held, clicked)
    except TooManyRoles:
        return
    between = first.applied_to(held)
    second = toggle(rules, between, clicked)
    after = second.applied_to(between)
    assert after == held - first.remove, "the role clicked twice is gone, nothing else returns"
    if not first.remove:
        assert after == held


@settings(max_examples=200, deadline=None)
@given(cases(required=True))
def test_without_the_required_role_nothing_is_allowed(case: Case) -> None:
    rules, held = case.rules, case.held - {REQUIRED}
    for role_id in rules.role_ids:
        with pytest.raises(MissingRequiredRole):
            toggle(rules, held, role_id)
    with pytest.raises(MissingRequiredRole):
        choose(rules, held, frozenset())
    with_it = held | {REQUIRED}
    for role_id in rules.role_ids:
        try:
            toggle(rules, with_it, role_id)
        except TooManyRoles:
            pass  # refused for the cap, not for the required role


@settings(max_examples=400, deadline=None)
@given(cases(), st.data())
def test_a_choice_becomes_the_members_roles_of_the_menu(case: Case, data: st.DataObject) -> None:
    rules, held = case.rules, case.held
    chosen = frozenset(data.draw(st.sets(st.sampled_from(sorted(rules.role_ids)))))
    if rules.required_role_id is not None and rules.required_role_id not in held:
        with pytest.raises(MissingRequiredRole):
            choose(rules, held, chosen)
        return
    doubled = {g: ids for g, ids in groups_held(rules, chosen).items() if len(ids) > 1}
    if doubled:
        with pytest.raises(OneRolePerGroup):
            choose(rules, held, chosen)
        return
    if rules.max_roles and len(chosen) > rules.max_roles:
        with pytest.raises(TooManyRoles):
            choose(rules, held, chosen)
        return
    change = choose(rules, held, chosen)
    check_change_shape(rules, held, change)
    after = change.applied_to(held)
    assert menu_roles_of(rules, after) == chosen


@settings(max_examples=100, deadline=None)
@given(cases(required=False), st.sampled_from([0, 100, 200]))
def test_a_role_the_menu_does_not_offer_is_refused(case: Case, stranger: int) -> None:
    with pytest.raises(NotOffered):
        toggle(case.rules, case.held, stranger)
    with pytest.raises(NotOffered):
        choose(case.rules, case.held, frozenset({stranger}))


def test_an_exclusive_group_swaps_and_the_cap_counts_the_swap() -> None:
    red, blue, news = 1, 2, 3
    rules = MenuRules(
        options=(OptionRule(red, "colour"), OptionRule(blue, "colour"), OptionRule(news)),
        max_roles=2,
    )
    swap = toggle(rules, frozenset({red, news}), blue)
    assert swap == RoleChange(add=frozenset({blue}), remove=frozenset({red}))
    with pytest.raises(TooManyRoles, match="at most 2 roles"):
        toggle(MenuRules(options=(*rules.options[1:], OptionRule(4)), max_roles=2),
               frozenset({blue, news}), 4)
