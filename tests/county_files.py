"""Write a small, valid county folder that tests then break in one place at a time."""

from __future__ import annotations

import shutil
from pathlib import Path

from kiosk.demo import DEMO_CONTENT

COUNTY = """\
code: testland
name: 测试县
sample: true
public_base_url: https://gk.test.example.cn
townships:
  - code: east
    name: 东镇
    villages:
      - code: apple
        name: 苹果村
      - code: pear
        name: 梨村
  - code: west
    name: 西镇
    villages:
      - code: plum
        name: 李村
"""

POWER = """\
id: {id}
name: 低保申请
category: 便民服务
basis:
  - 《社会救助暂行办法》
responsible: 村民委员会
fee: 不收费
time_limit: 30个工作日
supervision:
  body: 村务监督委员会
  phone: 0000-5550100
steps:
  - id: apply
    title: 提出申请
    actor: 申请人
  - id: check
    title: 入户调查
    actor: 村民委员会
    branches:
      - when: 符合条件
        to: post
      - when: 不符合条件
        to: refuse
  - id: refuse
    title: 告知申请人并说明理由
    actor: 村民委员会
    end: true
  - id: post
    title: 张榜公示
    actor: 村民委员会
"""

NOTICE = """\
---
id: {id}
domain: 财务
title: 十月财务收支公开
published: "2026-11-05"
expires: "2026-12-05"
---
本月收入 **1000** 元。
"""

CATALOGUE = """\
area: 社会救助
items:
  - id: dibao-result
    level1: 最低生活保障
    level2: 审批结果
    content: 保障对象姓名、保障金额
    basis: [《社会救助暂行办法》]
    time_limit: 信息形成之日起20个工作日内
    body: 县民政局
    channels: [便民服务站]
    audience: 全社会
    mode: 主动
    level: [县级, 乡级]
"""

TEN_ONES = "items:\n" + "".join(f"  - title: 第{n}个一\n    description: 说明{n}\n" for n in range(1, 11))

CONTACTS = """\
contacts:
  - id: hotline
    name: 县纪委监委举报电话
    phone: 0000-12388
    kind: supervision
"""


def write_county(root: Path) -> Path:
    """Write a valid county into *root* and return it."""
    (root / "powers").mkdir(parents=True)
    (root / "notices").mkdir()
    (root / "catalogue").mkdir()
    (root / "media").mkdir()
    (root / "county.yaml").write_text(COUNTY, encoding="utf-8")
    (root / "powers" / "dibao.yaml").write_text(POWER.format(id="dibao"), encoding="utf-8")
    (root / "notices" / "finance.md").write_text(NOTICE.format(id="finance-10"), encoding="utf-8")
    (root / "catalogue" / "18-shehui-jiuzhu.yaml").write_text(CATALOGUE, encoding="utf-8")
    (root / "ten_ones.yaml").write_text(TEN_ONES, encoding="utf-8")
    (root / "contacts.yaml").write_text(CONTACTS, encoding="utf-8")
    return root


def copy_demo(root: Path) -> Path:
    """Copy the demo county into *root* (for tests that change real content)."""
    return Path(shutil.copytree(DEMO_CONTENT, root / "county"))


def install_with_a_notice_out_tomorrow(root: Path) -> Path:
    """Install write_county's county with its notice 'finance-10' published tomorrow; return the data dir."""
    from datetime import timedelta

    from sync.contract.content import load_county
    from sync.contract.dates import local_now
    from sync.contract.snapshot import village_snapshot
    from sync.receive.install import install_snapshot

    county = write_county(root / "county")
    tomorrow = local_now("Asia/Shanghai") + timedelta(days=1)
    notice = county / "notices" / "finance.md"
    text = notice.read_text(encoding="utf-8").replace('"2026-11-05"', f'"{tomorrow:%Y-%m-%d %H:%M}"')
    notice.write_text(text.replace('expires: "2026-12-05"\n', ""), encoding="utf-8")
    snapshot, media = village_snapshot(load_county(county), "apple", 1, "2026-11-27")
    install_snapshot(root / "data", snapshot, media)
    return root / "data"
