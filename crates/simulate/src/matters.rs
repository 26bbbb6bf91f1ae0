//! The matter catalogue (事项清单) the city keeps: the broad 2023 list, what the 2024
//! pruning (清单瘦身) does to each item, and items added later.

/// Categories (= town leaders' duty areas) with the abbreviation used in codes.
pub(crate) const CATEGORIES: &[(&str, &str)] = &[
    ("DJ", "党建"),
    ("ZZ", "综治"),
    ("MZ", "民政"),
    ("NY", "农业农村"),
    ("CJ", "城建"),
    ("ST", "生态环境"),
    ("YJ", "应急管理"),
    ("WJ", "卫生健康"),
    ("WH", "文化教育"),
    ("SB", "社会保障"),
];

/// How the town leaders of every town share the duty areas.
pub(crate) const DUTY_AREAS: &[&[&str]] = &[
    &["党建", "文化教育"],
    &["综治", "应急管理"],
    &["民政", "社会保障"],
    &["农业农村", "生态环境"],
    &["城建", "卫生健康"],
];

/// What the 2024 pruning does to an item of the 2023 list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Stays on the list.
    Keep,
    /// Retired (退出清单).
    Retire,
    /// Becomes 禁入: may never be pushed down to villages.
    Bar,
    /// Its responsibility moves up to the town: asking a village is the wrong level.
    ToTown,
}

/// One item: category abbreviation, name, grid-level (else village-level), assist (else
/// duty), fate in 2024.
pub(crate) struct MatterSpec {
    pub cat: &'static str,
    pub name: &'static str,
    pub grid: bool,
    pub assist: bool,
    pub fate: Fate,
}

const fn m(cat: &'static str, name: &'static str, flags: &'static str) -> MatterSpec {
    let b = flags.as_bytes();
    let grid = b.len() > 0 && b[0] == b'G';
    let assist = b.len() > 1 && b[1] == b'A';
    let fate = if b.len() > 2 {
        match b[2] {
            b'R' => Fate::Retire,
            b'B' => Fate::Bar,
            b'T' => Fate::ToTown,
            _ => Fate::Keep,
        }
    } else {
        Fate::Keep
    };
    MatterSpec {
        cat,
        name,
        grid,
        assist,
        fate,
    }
}

/// The broad 2023 list. Flags: level (V village / G grid), kind (D duty / A assist), fate
/// (K keep / R retire / B bar / T to town).
pub(crate) const BROAD_LIST: &[MatterSpec] = &[
    m("DJ", "村党组织“三会一课”组织实施", "VDK"),
    m("DJ", "党员发展对象培养考察", "VDK"),
    m("DJ", "党员教育管理日常工作", "VDK"),
    m("DJ", "主题党日活动开展", "VDK"),
    m("DJ", "党费收缴与管理", "VDK"),
    m("DJ", "流动党员联系服务", "VDK"),
    m("DJ", "村级后备干部培养", "VAK"),
    m("DJ", "党群服务中心日常运行", "VDK"),
    m("DJ", "村务监督委员会工作保障", "VDK"),
    m("DJ", "党员联户走访", "GDK"),
    m("DJ", "困难党员老党员走访慰问", "VDK"),
    m("DJ", "清廉村居建设", "VDK"),
    m("DJ", "党建示范点创建申报材料报送", "VAR"),
    m("DJ", "党建工作台账重复报送", "VAR"),
    m("DJ", "党建宣传稿件任务摊派", "VAR"),
    m("DJ", "代拟上级部门党建调研报告", "VAB"),
    m("DJ", "两新组织党建指导", "VAT"),
    m("DJ", "镇级党建阵地建设管理", "VAT"),
    m("ZZ", "矛盾纠纷排查化解", "VDK"),
    m("ZZ", "网格日常巡查", "GDK"),
    m("ZZ", "平安建设宣传", "VDK"),
    m("ZZ", "反诈宣传进村入户", "GAK"),
    m("ZZ", "禁毒宣传教育", "VAK"),
    m("ZZ", "重点人员走访关爱", "GAK"),
    m("ZZ", "信访事项协助化解", "VAK"),
    m("ZZ", "出租房屋信息采集", "GAK"),
    m("ZZ", "村规民约修订完善", "VDK"),
    m("ZZ", "人民调解委员会日常工作", "VDK"),
    m("ZZ", "平安创建考核材料报送", "VAR"),
    m("ZZ", "综治中心值班人员派驻", "VAR"),
    m("ZZ", "协助公安开展治安执法", "VAB"),
    m("ZZ", "违法建筑查处", "VAT"),
    m("ZZ", "社会治安重点地区整治", "VAT"),
    m("MZ", "低保对象入户核查", "VAK"),
    m("MZ", "特困人员走访探视", "VAK"),
    m("MZ", "残疾人两项补贴申请受理", "VAK"),
    m("MZ", "高龄津贴申报", "VAK"),
    m("MZ", "留守儿童关爱服务", "GDK"),
    m("MZ", "独居老人定期探访", "GDK"),
    m("MZ", "村(居)民委员会换届选举组织", "VDK"),
    m("MZ", "婚丧喜事移风易俗劝导", "VDK"),
    m("MZ", "社会组织培育孵化", "VAK"),
    m("MZ", "养老服务机构安全检查", "VAT"),
    m("MZ", "各类证明事项出具", "VAB"),
    m("MZ", "民政统计报表逐级填报", "VAR"),
    m("MZ", "慈善募捐任务分摊", "VAB"),
    m("MZ", "地名标志设置维护", "VAR"),
    m("NY", "耕地保护动态巡查", "GDK"),
    m("NY", "粮食生产面积核实", "VAK"),
    m("NY", "农村宅基地申请初审", "VDK"),
    m("NY", "村集体经济组织财务公开", "VDK"),
    m("NY", "农业保险政策宣传", "VAK"),
    m("NY", "高标准农田管护", "VAK"),
    m("NY", "动物防疫协助开展", "VAK"),
    m("NY", "农村集体资产清查", "VDK"),
    m("NY", "农民专业合作社指导", "VAK"),
    m("NY", "农业招商引资指标", "VAB"),
    m("NY", "农产品质量安全执法检查", "VAT"),
    m("NY", "农村土地承包经营权确权数据维护", "VAR"),
    m("NY", "美丽乡村创建材料报送", "VAR"),
    m("NY", "农机安全监管", "VAT"),
    m("CJ", "农村危房排查", "VAK"),
    m("CJ", "村庄规划意见征集", "VDK"),
    m("CJ", "农房建设现场巡查", "GAK"),
    m("CJ", "村内道路日常养护", "VDK"),
    m("CJ", "公共设施安全隐患排查", "GDK"),
    m("CJ", "违章搭建劝导", "GAK"),
    m("CJ", "城乡环境卫生执法清理", "VAT"),
    m("CJ", "建筑工地安全检查", "VAT"),
    m("CJ", "燃气安全入户检查", "VAR"),
    m("CJ", "户外广告设置审批初审", "VAB"),
    m("CJ", "城建档案资料汇编", "VAR"),
    m("CJ", "拆迁补偿协议签订", "VAB"),
    m("ST", "河道日常巡查(河长制)", "GDK"),
    m("ST", "垃圾分类宣传督导", "GDK"),
    m("ST", "村庄保洁长效管理", "VDK"),
    m("ST", "农村生活污水设施巡查", "VAK"),
    m("ST", "秸秆禁烧巡查", "GAK"),
    m("ST", "畜禽养殖污染排查", "VAK"),
    m("ST", "河道沿线及公共区域垃圾清运", "VAT"),
    m("ST", "环境污染行政执法", "VAB"),
    m("ST", "生态环境问题整改台账报送", "VAR"),
    m("ST", "企业排污监测", "VAT"),
    m("ST", "爱国卫生运动材料报送", "VAR"),
    m("YJ", "防汛防台人员转移", "VDK"),
    m("YJ", "地质灾害隐患点巡查", "GDK"),
    m("YJ", "消防安全隐患排查", "GAK"),
    m("YJ", "应急物资储备管理", "VDK"),
    m("YJ", "安全生产宣传", "VAK"),
    m("YJ", "森林防火巡查", "GDK"),
    m("YJ", "应急演练组织", "VDK"),
    m("YJ", "企业安全生产执法检查", "VAB"),
    m("YJ", "危化品经营场所检查", "VAT"),
    m("YJ", "安全生产月活动材料报送", "VAR"),
    m("YJ", "电动自行车集中充电设施巡查", "GAK"),
    m("WJ", "疫苗接种动员", "GAK"),
    m("WJ", "重点人群健康随访协助", "VAK"),
    m("WJ", "爱国卫生运动", "VDK"),
    m("WJ", "病媒生物防制", "VAK"),
    m("WJ", "家庭医生签约宣传", "VAK"),
    m("WJ", "计划生育特殊家庭联系", "VAK"),
    m("WJ", "食品安全执法检查", "VAB"),
    m("WJ", "健康村创建材料报送", "VAR"),
    m("WJ", "村卫生室药品监管", "VAT"),
    m("WJ", "健康知识讲座任务摊派", "VAR"),
    m("WH", "文化礼堂日常管理", "VDK"),
    m("WH", "农家书屋运行维护", "VDK"),
    m("WH", "文体活动组织", "VDK"),
    m("WH", "新时代文明实践站活动", "VDK"),
    m("WH", "非遗与历史文化保护", "VAK"),
    m("WH", "学前教育入学摸底", "VAK"),
    m("WH", "文明村创建测评材料", "VAR"),
    m("WH", "各类征文比赛参与指标", "VAB"),
    m("WH", "文物安全巡查", "VAT"),
    m("WH", "送戏下乡演出组织", "VAR"),
    m("SB", "城乡居民养老保险参保动员", "VAK"),
    m("SB", "医疗保险参保缴费动员", "VAK"),
    m("SB", "就业困难人员登记", "VAK"),
    m("SB", "退役军人服务站日常工作", "VDK"),
    m("SB", "残疾人就业帮扶", "VAK"),
    m("SB", "社保卡信息采集", "GAK"),
    m("SB", "劳动保障监察", "VAT"),
    m("SB", "参保指标层层分解", "VAB"),
    m("SB", "就业统计报表报送", "VAR"),
    m("SB", "根治欠薪排查", "VAT"),
];

/// Items added to the list from 2024 on (new work for villages, in the order added).
pub(crate) const NEW_ITEMS: &[MatterSpec] = &[
    m("DJ", "“浙里兴村治社”应用信息维护", "VDK"),
    m("ZZ", "“共享法庭”村级站点运行", "VAK"),
    m("NY", "共富工坊运营协助", "VAK"),
    m("ST", "垃圾分类桶边督导", "GDK"),
    m("MZ", "老年助餐服务点运行", "VDK"),
    m("YJ", "小流域山洪灾害防御", "GDK"),
    m("NY", "闲置农房盘活登记", "VAK"),
    m("CJ", "未来乡村场景建设维护", "VDK"),
    m("WH", "村晚活动组织", "VDK"),
    m("SB", "灵活就业人员参保宣传", "GAK"),
    m("WJ", "健康驿站日常运行", "VAK"),
    m("DJ", "村社干部“领雁”培训组织", "VAK"),
    m("ZZ", "村级矛盾纠纷调处化解中心运行", "VDK"),
    m("ST", "美丽河湖管护", "GAK"),
    m("MZ", "儿童之家运行", "VDK"),
    m("YJ", "“码上防”应急预警发布", "GAK"),
    m("NY", "强村公司经营情况报告", "VDK"),
    m("CJ", "农村公路“路长制”巡查", "GDK"),
    m("WH", "乡村博物馆管理", "VAK"),
    m("SB", "“浙里办”社保业务代办", "VAK"),
];

/// The code of the `n`-th (1-based) item of a category: `SX-ZZ-007`.
pub(crate) fn code(cat: &str, n: usize) -> String {
    format!("SX-{cat}-{n:03}")
}

/// The category named by an abbreviation.
pub(crate) fn category(cat: &str) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(abbr, _)| *abbr == cat)
        .map_or("综治", |(_, name)| name)
}
