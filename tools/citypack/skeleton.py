"""``cityagent city init DIR --name 海滨市``: a commented pack that passes ``city check``, to fill in."""

from __future__ import annotations

from pathlib import Path

from tools.citypack.models import _plain

_CITY = """\
# 城市基本信息。改完后运行 `cityagent city check {dir}` 检查，`cityagent city load {dir}` 载入。
name: {name}                       # 城市名称：出现在助手的自我介绍、答复和首页标题中
assistant: {name}政务服务助手        # 助手名称
hotline: "12345"                   # 热线号码：答复中“请拨打…”用它
hotline_name: 12345政务服务便民热线  # 热线全称
ticket_prefix: {prefix}                  # 工单号前缀（大写字母），工单号形如 {prefix}20260101000042
timezone: Asia/Shanghai            # 时区：工作日和工单号日期按当地时间计算
region: {name}                     # 管辖地区：只检索全国性文件和“地区：{name}”的文件
duty_list: documents/权责清单.md    # 哪份文件是派单目录及部门权责清单（派单模型据此给出理由）
"""

_HOTLINE = """\
# 热线工单办理规则：按紧急程度的派发和办结时限、工作日历、重复工单合并时间窗。
# 时限写法：30分钟、2小时、3个工作日（也可以写 30m、2h、3 workdays）。
source: 《{name}12345热线工单办理规定》   # 这些规则出自哪份文件、哪一条
urgency:                                   # 三个紧急程度都要写
  特急: {{dispatch: 30分钟, close: 24小时, meaning: 涉及人身安全、公共安全}}
  紧急: {{dispatch: 2小时, close: 3个工作日, meaning: 影响正常生活需尽快处置}}
  一般: {{dispatch: 1个工作日, close: 5个工作日}}
calendar:
  weekend: [6, 7]        # 每周休息日：1=周一 … 7=周日
  holidays: []           # 法定节假日，例如 [2026-01-01, 2026-02-16]
  workdays: []           # 调休上班的周末，例如 [2026-02-14]
duplicate_window_days: 7  # 同一地点同一事项多少天内重复反映算同一件事
# 市民查询工单进度时各状态怎么说（可不填，不填的用系统默认说法）。
# 状态：上报 受理 派发 处置 反馈 办结 退回 合并
states: {{}}
# 例如：
# states:
#   派发: 已转交承办单位，等待其开始处理
"""

_GAZETTEER = """\
# 地名库：区（县）→ 街道（镇）→ 社区和道路。别名（简称、旧称）也能认出地点。
# 一条道路跨几个街道时写在每个街道下，系统不会据此猜街道。
districts: {{}}
# 例如：
# districts:
#   东城区:
#     code: "000001"          # 行政区划代码（可不填）
#     aliases: [东城]
#     streets:
#       中山街道:
#         aliases: [中山街]
#         communities: [中山社区, 新风社区]
#         roads: [中山路, 新风路]
"""

_ORDERS = """\
# 历史热线工单（派单模型从中学习）。没有历史数据时保持全部注释，载入时不训练派单模型。
# file: orders.csv              # 工单导出文件（CSV，UTF-8 或 GB18030）
# columns:                      # 每个字段在导出文件里的列名
#   text: 诉求内容                # 必填
#   department: 处置部门          # 必填，须是权责清单里的单位
#   title: 标题
#   address: 地址
#   category: 类别
#   urgency: 紧急程度
#   order_id: 工单编号
#   created_at: 受理时间
"""

_SERVICES = """\
# 通过 Open311 GeoReport v2（/open311/v2/）向城市门户、市民 App 开放的诉求类型。每类映射到一个工单类别，
# 提交后和电话受理的工单一样走受理、派发、办结。attributes 是这类诉求要多问的问题
# （datatype：string、number、datetime、text、singlevaluelist、multivaluelist；列表要写 values）。
jurisdiction_id: ""          # 管辖标识（域名形式，例如 city.example.gov.cn），客户端可带 jurisdiction_id 参数
services: []
# 例如：
# services:
#   - service_code: "001"
#     service_name: 路灯不亮
#     description: 道路、小区周边的路灯不亮或闪烁。
#     category: 公用事业           # 工单类别
#     group: 市政设施
#     keywords: [路灯, 照明]
#     attributes:
#       - code: lamp_state
#         datatype: singlevaluelist
#         description: 路灯的情况
#         required: true
#         values:
#           - {{key: dark, name: 不亮}}
#           - {{key: flicker, name: 闪烁}}
"""

_DUTIES = """\
# {name}12345热线派单目录及部门权责清单

发文机关：{name}政务服务管理局
类别：权责清单
地区：{name}

第一条 本清单是12345热线工单派发的依据。每个承办单位一条，写成“第X条 单位名称：职责、职责、……”。

第二条 市政务服务管理局：12345热线的受理、派发、督办和考核，职责不清工单的指定办理。
"""

_README = """\
# {name} 城市包

- `city.yaml` 城市名称、助手、热线、工单号前缀、时区、管辖地区、权责清单是哪份文件
- `hotline.yaml` 按紧急程度的派发和办结时限、工作日历、重复工单时间窗
- `gazetteer.yaml` 区、街道、社区、道路和别名
- `documents/` 政策和办事文件（Markdown，按“第X条”分条；也可放 txt/html/docx/pdf）
- `orders.yaml` 历史工单文件及其列名
- `enterprises/` 企业数据（CSV 或 Parquet），`rules/` 免申即享规则
- `services.yaml` 通过 Open311 开放的诉求类型及其附加问题

`cityagent city check .` 检查（列出每个问题的文件和行号），`cityagent city load .` 载入（可重复执行）。
"""

_FOLDER_NOTES = {
    "enterprises/README.md": "# 企业数据\n\n把企业数据导出（CSV 或 Parquet）放在这里。\n",
    "rules/README.md": "# 免申即享规则\n\n每项政策一个 YAML 规则文件。\n",
}


def write_skeleton(root: Path, name: str, ticket_prefix: str = "GD") -> list[Path]:
    """Write the commented pack for city ``name`` into ``root`` (which must be empty or new)."""
    name = _plain(name)
    if root.exists() and any(root.iterdir()):
        raise ValueError(f"{root}: not empty; `city init` writes into a new or empty folder")
    values = {"name": name, "prefix": ticket_prefix, "dir": root}
    files = {
        "city.yaml": _CITY,
        "hotline.yaml": _HOTLINE,
        "gazetteer.yaml": _GAZETTEER,
        "orders.yaml": _ORDERS,
        "services.yaml": _SERVICES,
        "documents/权责清单.md": _DUTIES,
        "README.md": _README,
        **_FOLDER_NOTES,
    }
    written = []
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(**values), encoding="utf-8")
        written.append(path)
    return written
