"""Interface names for fixed content values (the content itself stays as written).

A fixed value is one the schemas in content/schema allow from a closed list, or one the kiosk
itself offers: it is part of the interface, so an English page shows it in English. The Chinese
label of each is the value itself.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

DOMAIN_LABELS = {
    "party": _l("Party affairs"),
    "village": _l("Village affairs"),
    "finance": _l("Village finances"),
    "government": _l("Government affairs"),
}
CONTACT_KIND_LABELS = {
    "supervision": _l("Supervision"),
    "hotline": _l("Hotlines"),
    "office": _l("Offices"),
}
KIND_LABELS = {
    "power": _l("Small-power item"),
    "notice": _l("Notice"),
    "catalogue": _l("Disclosure catalogue"),
    "ten_ones": _l("Ten ones"),
}
# The 26 key areas of the standard disclosure catalogue (catalogue.schema.json, area).
CATALOGUE_AREA_LABELS = {
    "重大建设项目": _l("Major construction projects"),
    "公共资源交易": _l("Public resource trading"),
    "财政预决算": _l("Budgets and final accounts"),
    "安全生产": _l("Work safety"),
    "税收管理": _l("Tax administration"),
    "国有土地上房屋征收与补偿": _l("Expropriation of housing on state-owned land, and compensation"),
    "农村集体土地征收": _l("Expropriation of rural collective land"),
    "城乡规划": _l("Urban and rural planning"),
    "生态环境": _l("Ecology and environment"),
    "公共文化服务": _l("Public cultural services"),
    "公共法律服务": _l("Public legal services"),
    "扶贫": _l("Poverty relief"),
    "救灾": _l("Disaster relief"),
    "食品药品监管": _l("Food and drug supervision"),
    "城市综合执法": _l("Urban law enforcement"),
    "就业": _l("Employment"),
    "社会保险": _l("Social insurance"),
    "社会救助": _l("Social assistance"),
    "养老服务": _l("Care for the elderly"),
    "户籍管理": _l("Household registration"),
    "涉农补贴": _l("Farming subsidies"),
    "义务教育": _l("Compulsory education"),
    "卫生健康": _l("Health"),
    "市政服务": _l("Municipal services"),
    "农村危房改造": _l("Rebuilding unsafe rural houses"),
    "保障性住房": _l("Affordable housing"),
}
CATALOGUE_AUDIENCE_LABELS = {"全社会": _l("Everyone"), "特定群众": _l("The people concerned")}
CATALOGUE_MODE_LABELS = {"主动": _l("Published without being asked"), "依申请": _l("On request")}
CATALOGUE_LEVEL_LABELS = {"县级": _l("County"), "乡级": _l("Township")}
# power.schema.json, steps[].procedure: a standard procedure a step expands to.
PROCEDURE_LABELS = {"四议两公开": _l("Four deliberations, two disclosures")}
# Searches one tap away, for people who cannot spell pinyin at all: the matters villagers ask about
# most. The key is what is searched (the content is Chinese); the label is what the button says.
QUICK_SEARCHES = {
    "低保": _l("Subsistence allowance"),
    "医保": _l("Medical insurance"),
    "养老": _l("Old-age pension"),
    "宅基地": _l("Homestead land"),
    "补贴": _l("Subsidies"),
    "救助": _l("Assistance"),
    "财务": _l("Village finances"),
    "党费": _l("Party dues"),
    "土地": _l("Land"),
    "工程": _l("Construction works"),
}
