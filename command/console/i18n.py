"""Interface text in Chinese (the default, for a Shanghai deployment) and English; pages hold only keys."""

from __future__ import annotations

from typing import Any

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"

TEXT: dict[str, tuple[str, str]] = {
    # shell
    "app.title": ("一网 指挥台", "Yiwang console"),
    "app.demo_store": ("演示库：演示用户共用密码，不得用于真实事件", "DEMO store: demo users share a password; not for real incidents"),
    "app.language": ("语言 Language", "Language 语言"),
    "app.signed_in": ("已登录：{user}（{role}，{jurisdiction}）", "Signed in: {user} ({role}, {jurisdiction})"),
    "app.logout": ("退出登录", "Log out"),
    "app.session_expired": ("会话已过期，请重新登录", "Your session expired; please log in again"),
    "app.store_error": ("无法打开数据库：{error}", "Cannot open the store: {error}"),
    "role.admin": ("管理员", "admin"),
    "role.planner": ("规划员", "planner"),
    "role.commander": ("指挥员", "commander"),
    "role.observer": ("观察员（学员）", "observer (trainee)"),
    # pages
    "page.login": ("登录", "Log in"),
    "page.board": ("事件看板", "Incident board"),
    "page.incident": ("事件态势", "Incident view"),
    "page.review": ("方案审批", "Plan review"),
    "page.whatif": ("推演（假设分析）", "What-if"),
    "page.admin": ("系统管理", "Admin"),
    # login
    "login.heading": ("登录一网指挥台", "Log in to Yiwang"),
    "login.username": ("用户名", "User name"),
    "login.password": ("密码", "Password"),
    "login.submit": ("登录", "Log in"),
    "login.failed": ("登录失败：{error}", "Login failed: {error}"),
    # board
    "board.heading": ("本辖区事件", "Incidents in your jurisdiction"),
    "board.none": ("本辖区暂无进行中的事件", "No open incidents in your jurisdiction"),
    "board.show_closed": ("显示已关闭事件", "Show closed incidents"),
    "board.col.code": ("编号", "Code"),
    "board.col.title": ("名称", "Title"),
    "board.col.jurisdiction": ("辖区", "Jurisdiction"),
    "board.col.status": ("状态", "Status"),
    "board.col.phase": ("阶段", "Phase"),
    "board.col.commander": ("现场指挥", "Commander"),
    "board.col.plan": ("生效方案", "Active plan"),
    "board.col.alarm": ("告警", "Alarm"),
    "board.open_heading": ("新建事件", "Open an incident"),
    "board.source": ("场景来源", "Scenario source"),
    "board.source.builtin": ("内置场景", "Built-in scenario"),
    "board.source.upload": ("上传场景文件", "Upload a scenario file"),
    "board.scenario": ("场景", "Scenario"),
    "board.upload": ("场景文件（YAML）", "Scenario file (YAML)"),
    "board.jurisdiction": ("所属辖区", "Jurisdiction"),
    "board.exercise": ("演练（非真实事件）", "Exercise (not a real incident)"),
    "board.open": ("新建事件", "Open incident"),
    "board.opened": ("已新建事件 {code}", "Incident {code} opened"),
    "board.scenario_errors": ("场景文件有 {n} 处错误：", "The scenario file has {n} problem(s):"),
    "board.no_file": ("请先选择文件", "Choose a file first"),
    "board.exercise_tag": ("【演练】", "[EXERCISE] "),
    # incident
    "incident.choose": ("选择事件", "Incident"),
    "incident.none": ("没有可查看的事件", "No incident to show"),
    "incident.summary": ("{code} · {status} · 阶段：{phase} · 模拟时刻：{clock}", "{code} · {status} · phase: {phase} · simulated time: {clock}"),
    "incident.holder": ("现场指挥：{holder}（至 {until}）", "Commander on site: {holder} (until {until})"),
    "incident.no_holder": ("尚未授权现场指挥", "No commander holds this incident"),
    "incident.replan": ("需要重新规划：{why}", "Re-plan needed: {why}"),
    "incident.map": ("态势图", "Map"),
    "incident.time": ("模拟时间", "Simulated time"),
    "incident.legend": ("颜色：排队人数（绿色少、红色多）；灰线为道路与步道", "Colour: people queuing (green few, red many); grey lines: roads and walkways"),
    "incident.kpis": ("指标随时间变化（默认方案对比生效方案）", "KPIs over time (default plan vs plan in effect)"),
    "incident.series": ("指标", "Series"),
    "incident.events": ("事件日志", "Event log"),
    "incident.activity": ("活动记录（ICS 214）", "Activity log (ICS 214)"),
    "incident.advance": ("推进到下一决策点", "Advance to the next decision point"),
    "incident.advanced": ("已推进：{text}", "Advanced: {text}"),
    "incident.osm": ("地图数据 © OpenStreetMap 贡献者（ODbL）", "Map data © OpenStreetMap contributors (ODbL)"),
    "incident.plan_label": ("生效方案", "plan in effect"),
    "incident.default_label": ("默认方案", "default plan"),
    "incident.roster": ("人员名单", "Roster"),
    "incident.masked": ("姓名与电话已脱敏", "Names and phone numbers masked"),
    # review
    "review.none": ("该事件暂无方案", "This incident has no plan yet"),
    "review.run": ("生成方案（模拟+优化）", "Plan it (simulate and optimise)"),
    "review.running": ("正在运行…", "Running…"),
    "review.cancel": ("取消", "Cancel"),
    "review.cancelled": ("已取消", "Cancelled"),
    "review.failed": ("失败：{error}", "Failed: {error}"),
    "review.done": ("已生成方案 {plan}", "Plan {plan} proposed"),
    "review.choose": ("方案", "Plan"),
    "review.header": ("方案 {number}（第 {version} 版，共 {versions} 版）· {status} · 摘要 {digest}", "Plan {number} (version {version} of {versions}) · {status} · digest {digest}"),
    "review.solver": ("求解：{status}，目标 {objective}，下界 {bound}，间隙 {gap}", "Solver: {status}, objective {objective}, bound {bound}, gap {gap}"),
    "review.no_forecast": ("该方案没有预测结果（未经模拟提交）", "This plan has no forecast (it was proposed without a simulation)"),
    "review.binds": ("约束与边际价值", "What binds, and what one more unit would buy"),
    "review.forecast": ("预测结果对比", "Forecast consequences"),
    "review.col.kpi": ("指标", "KPI"),
    "review.col.baseline": ("默认方案", "Default plan"),
    "review.col.plan": ("本方案", "This plan"),
    "review.col.previous": ("上一生效方案", "Previous approved plan"),
    "review.col.change": ("变化", "Change"),
    "review.assignments": ("各队任务分配（ICS 204）", "Assignments per team (ICS 204)"),
    "review.diff": ("与上一生效方案的差异", "Changes from the previous approved plan"),
    "review.no_previous": ("没有上一生效方案", "No previous approved plan"),
    "review.decide": ("审批", "Decision"),
    "review.password": ("重新输入密码以确认", "Re-enter your password to confirm"),
    "review.approve": ("批准并执行", "Approve and put into effect"),
    "review.reject": ("驳回", "Reject"),
    "review.reason": ("驳回理由（必填）", "Reason for rejecting (required)"),
    "review.approved": ("已批准方案 {plan} 第 {version} 版并生效", "Plan {plan} version {version} approved and in effect"),
    "review.rejected": ("已驳回方案 {plan}", "Plan {plan} rejected"),
    "review.refused": ("操作被拒绝：{error}", "Refused: {error}"),
    "review.not_holder": ("只有本事件的现场指挥可以审批；当前为：{holder}", "Only the incident's commander can decide; now: {holder}"),
    "review.decisions": ("审批记录", "Decisions"),
    "review.export": ("下载 ICS 204（HTML）", "Download ICS 204 (HTML)"),
    "review.progress": ("进度", "Progress"),
    # what-if
    "whatif.scenario": ("场景", "Scenario"),
    "whatif.run": ("运行推演", "Run"),
    "whatif.runs": ("推演结果对比", "Runs side by side"),
    "whatif.clear": ("清除结果", "Clear runs"),
    "whatif.label": ("本次推演名称", "Name of this run"),
    "whatif.seed": ("随机种子", "Seed"),
    "whatif.fields": ("可调整参数", "Fields to change"),
    "whatif.invalid": ("参数有误：", "Invalid fields:"),
    "whatif.none": ("还没有推演结果", "No runs yet"),
    # admin
    "admin.users": ("用户", "Users"),
    "admin.add_user": ("新增用户", "Add a user"),
    "admin.role": ("角色", "Role"),
    "admin.display_name": ("姓名", "Full name"),
    "admin.phone": ("电话", "Phone"),
    "admin.added": ("已新增用户 {user}", "User {user} added"),
    "admin.grants": ("指挥授权", "Command grants"),
    "admin.grant_to": ("授权给", "Grant to"),
    "admin.hours": ("时长（小时）", "Hours"),
    "admin.reason": ("理由", "Reason"),
    "admin.grant": ("授权", "Grant"),
    "admin.granted": ("已授权 {user} 指挥事件 {incident}", "{user} now commands incident {incident}"),
    "admin.revoke": ("撤销授权", "Revoke"),
    "admin.revoked": ("已撤销授权", "Grant revoked"),
    "admin.audit": ("审计链校验", "Audit chain"),
    "admin.verify": ("校验审计链", "Verify the audit chain"),
    "admin.jurisdictions": ("辖区", "Jurisdictions"),
    "common.error": ("错误：{error}", "Error: {error}"),
    "common.none": ("无", "none"),
}


def t(key: str, lang: str = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    """The text for `key` in `lang`, with `{name}` fields filled in; the key itself if it is unknown."""
    pair = TEXT.get(key)
    if pair is None:
        return key
    text = pair[0] if lang == "zh" else pair[1]
    return text.format(**values) if values else text


__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "TEXT", "t"]
