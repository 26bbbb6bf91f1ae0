//! Words the generator draws from: people's names, place names, titles and reasons.

use crate::rng::Rng;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "朱", "胡", "郭", "何", "高",
    "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "沈", "蒋", "蔡",
    "余", "杜", "叶", "程", "魏", "吕", "丁", "任", "姚", "卢", "金", "钱", "俞", "潘", "方", "楼",
    "袁", "孟", "章", "裘", "寿", "屠", "骆", "斯", "应", "鲁", "倪", "汤", "竺", "梅", "宣", "董",
];

const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "建", "国", "文", "辉", "红", "玲", "斌", "峰",
    "海", "波", "燕", "萍", "鹏", "宇", "浩", "晨", "欣", "婷", "雪", "琳", "健", "志", "新", "春",
    "立", "永", "林", "荣", "根", "水", "祥", "飞", "亮", "锋", "炜", "佳", "晓", "卫", "忠", "良",
];

/// Syllables of generated village names (of the kind Shaoxing's villages carry).
const PLACE: &[&str] = &[
    "东", "西", "南", "北", "上", "下", "新", "大", "小", "前", "后", "王", "金", "石", "山", "溪",
    "湖", "塘", "桥", "岭", "坞", "岙", "畈", "洋", "墅", "江", "浦", "坂", "泉", "竹", "桃", "杨",
    "柳", "松", "兰", "荷", "华", "丰", "安", "和", "平", "宁", "盛", "兴", "富", "乐", "福", "庆",
    "光", "明", "永", "长", "高", "龙", "凤", "鹤", "云", "峰", "田", "湾", "渚", "岩", "沙", "潭",
];

const GRID_NUMBERS: &[&str] = &["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

/// A person's full name: surname and one or two characters.
pub(crate) fn person(rng: &mut Rng) -> String {
    let mut name = String::new();
    name.push_str(rng.pick(SURNAMES).copied().unwrap_or("王"));
    name.push_str(rng.pick(GIVEN).copied().unwrap_or("明"));
    if rng.chance(0.7) {
        name.push_str(rng.pick(GIVEN).copied().unwrap_or("华"));
    }
    name
}

/// A two-syllable place stem, e.g. `溪塘`.
pub(crate) fn place_stem(rng: &mut Rng) -> String {
    let a = rng.pick(PLACE).copied().unwrap_or("新");
    let mut b = rng.pick(PLACE).copied().unwrap_or("塘");
    if a == b {
        b = rng.pick(PLACE).copied().unwrap_or("桥");
    }
    format!("{a}{b}")
}

/// `第一网格` … for grid numbers 1..=10, `第11网格` beyond.
pub(crate) fn grid_name(number: u16) -> String {
    match GRID_NUMBERS.get(usize::from(number).wrapping_sub(1)) {
        Some(n) => format!("第{n}网格"),
        None => format!("第{number}网格"),
    }
}

/// Village projects that need a decision procedure (村级重大事项).
pub(crate) const PROJECTS: &[&str] = &[
    "村道硬化提升",
    "文化礼堂改造",
    "农田水利设施修缮",
    "村集体经营性用房建设",
    "屋顶光伏发电项目",
    "村民停车场建设",
    "污水管网改造",
    "老年食堂建设",
    "美丽庭院提升",
    "村集体资产出租",
    "山塘水库加固",
    "共富工坊建设",
    "村级物业用房购置",
    "溪道清淤与护岸",
    "公共照明改造",
    "农产品冷链仓储建设",
];

/// Town projects posted for bidding (揭榜挂帅).
pub(crate) const LISTINGS: &[&str] = &[
    "建设共富工坊",
    "打造未来乡村示范点",
    "建设乡村振兴示范带节点",
    "开展闲置农房盘活利用",
    "建设邻里中心",
    "打造特色农产品品牌",
    "建设数字乡村应用场景",
    "创建垃圾分类示范村",
    "建设老年助餐点",
    "打造红色研学线路",
    "开展宅基地改革试点",
    "建设党群服务驿站",
];

pub(crate) const LISTING_CRITERIA: &[(&str, u32)] = &[
    ("建设方案可行性", 35),
    ("村集体配套投入", 25),
    ("群众参与度", 20),
    ("已有工作基础", 20),
];

pub(crate) const RETURN_REASONS: &[&str] = &[
    "任务要求不够具体,请明确工作标准后重新提交",
    "完成时限过紧,请与村社沟通后调整",
    "与本月已派任务内容相近,请合并后再报",
    "请补充上级文件依据",
    "分值设置偏高,请按难度重新核定",
];

pub(crate) const REWORK_REASONS: &[&str] = &[
    "佐证材料不完整,请补充现场照片",
    "台账信息与实际不符,请核实后重新提交",
    "未覆盖全部网格,请补齐",
    "整改措施不具体,请细化",
];

pub(crate) const WITHDRAW_REASONS: &[&str] = &[
    "上级部门通知暂缓实施",
    "工作要求调整,任务取消",
    "已由镇街执法队统一处置",
    "该项工作改由镇级部门直接承办",
];

pub(crate) const PRAISE_REASONS: &[&str] = &[
    "防汛防台工作响应迅速、处置有力",
    "矛盾纠纷化解及时,群众满意",
    "垃圾分类工作成效明显",
    "村务公开规范,台账清晰",
    "共富项目推进有力",
    "疫苗接种动员工作扎实",
    "平安创建工作表现突出",
    "人居环境整治进步显著",
];

pub(crate) const PROGRESS_NOTES: &[&str] = &[
    "已召开村两委会议部署",
    "已完成入户走访摸排",
    "已完成过半,正在推进",
    "网格员已完成现场核查",
    "已形成初步工作台账",
];

pub(crate) const SUBMIT_SUMMARIES: &[&str] = &[
    "已按要求完成,附现场照片和台账",
    "工作已全部完成,相关材料已归档",
    "已完成排查整改,附整改前后对比照片",
    "已完成宣传和入户,附签到表和照片",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plausible() {
        let mut rng = Rng::new(1);
        for _ in 0..50 {
            let n = person(&mut rng);
            assert!((2..=3).contains(&n.chars().count()), "{n}");
            assert_eq!(place_stem(&mut rng).chars().count(), 2);
        }
        assert_eq!(grid_name(3), "第三网格");
        assert_eq!(grid_name(12), "第12网格");
    }
}
