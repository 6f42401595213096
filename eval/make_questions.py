"""Writes eval/questions.jsonl. Every question was written by reading the report, never from a retriever.

Kept as code so the set is reviewable in one place; `python eval/make_questions.py` regenerates the file.
Fields: id, lang, question, relevant (¶ numbers), footnotes, kind, and for follow-ups history + standalone.
"""

from __future__ import annotations

import json
from pathlib import Path

Q = []


def q(lang, kind, question, relevant, footnotes=(), history=None, standalone=None):
    item = {"id": f"q{len(Q) + 1:03d}", "lang": lang, "question": question, "relevant": list(relevant),
            "footnotes": list(footnotes), "kind": kind}
    if history is not None:
        item["history"] = list(history)
    if standalone is not None:
        item["standalone"] = standalone
    Q.append(item)


# Chinese, lexical (shares the report's wording)
q("zh", "lexical", "儿童权利委员会第八十四届特别会议在哪里举行？", [7, 71])
q("zh", "lexical", "人权理事会第四十三届会议何时休会、何时复会？", [10])
q("zh", "lexical", "第 43/1 号决议的主题是什么？", [10])
q("zh", "lexical", "人权高专办制定的 COVID-19 危机人权指标框架是什么的一部分？", [25])
q("zh", "lexical", "乍得废除了哪项法律中的死刑？", [90])
q("zh", "lexical", "墨西哥联邦大赦法的目的是什么？", [98])
q("zh", "lexical", "人权高专办与哪所大学合作开设了人权硕士课程？", [112])
q("zh", "lexical", "人权高专办在马拉维如何帮助白化病患者？", [86])
q("zh", "lexical", "萨赫勒五国集团联合部队的人权合规框架", [49, 95])
q("zh", "lexical", "本报告所述期间高级专员访问了哪些国家？", [2])
q("zh", "lexical", "人权高专办在乌拉圭发布了哪些关于司法性别陈规定型观念的指南？", [74])
q("zh", "lexical", "人权高专办在世界城市论坛第十届会议上做了什么？", [33])
q("zh", "lexical", "人权高专办参加了哪个非传染性疾病机构间工作队的工作？", [32])
q("zh", "lexical", "利比亚实况调查团是根据哪项决议成立的？", [13])
# Chinese, paraphrased (few shared words)
q("zh", "paraphrase", "为了防止病毒在羁押场所扩散，办事处做了什么？", [98, 96])
q("zh", "paraphrase", "工作人员遭遇黑客威胁后，办事处采取了什么措施？", [119])
q("zh", "paraphrase", "今年年初哪两位女士走马上任新的领导职务？", [4])
q("zh", "paraphrase", "为纪念非洲人后裔十年，办事处为欧洲的黑人女性领袖组织了什么活动？", [62])
q("zh", "paraphrase", "办事处负责人是否要求减轻经济封锁以便民众获得医疗？", [129])
q("zh", "paraphrase", "办事处在物种多样性谈判方面有什么参与？", [41])
q("zh", "paraphrase", "哪些人群因新冠病毒丧生的风险最高？", [125])
q("zh", "paraphrase", "关于 AI 技术对个人私生活影响的专家会议", [114])
q("zh", "paraphrase", "办事处怎样在无法出差的情况下开展人权监测？", [44])
q("zh", "paraphrase", "为了帮助想回家乡的移民，办事处与哪些国家合作？", [67])
q("zh", "paraphrase", "办事处如何推动 LGBTI 群体的平等？", [80, 81])
q("zh", "paraphrase", "办事处如何回应秘书长数字合作小组的报告？", [115])
# Numeric
q("zh", "numeric", "人权高专办在世界各地设有多少个人权外地存在？", [2])
q("zh", "numeric", "冈比亚真相、和解与赔偿委员会举行了多少次公开听证会？", [89])
q("zh", "numeric", "人权高专办与多少家技术公司进行了双边协商？", [117])
q("zh", "numeric", "安哥拉有多少名执法和安全官员在接受人权指导？", [97])
q("zh", "numeric", "禁止酷刑任择议定书特别基金支持了多少个预防项目？", [21])
q("en", "numeric", "How many human rights field presences did OHCHR have as of 30 June 2020?", [2])
q("en", "numeric", "How many country and thematic special procedures mandates does OHCHR support?", [17])
q("fr", "numeric", "Combien de personnes de combien de pays ont été formées à la mise en œuvre du droit au développement ?", [29])
q("es", "numeric", "¿Cuántas subvenciones se concedieron a víctimas de la tortura y en cuántos países?", [22])
# Footnote-only answers
q("zh", "footnote", "人权高专办向人权理事会第四十三届会议提交了多少份报告？", [10], [4])
q("zh", "footnote", "哪份报告应与本报告一并阅读？", [1], [1])
q("zh", "footnote", "提及科索沃时应结合哪项安全理事会决议理解？", [25], [7])
q("zh", "footnote", "助理秘书长作为指定高级官员在报复问题上做什么？", [104], [26])
q("en", "footnote", "Where is the web page on COVID-19 and the special procedures?", [18], [5])
q("en", "footnote", "Where can I find the UN framework for the immediate socio-economic response to COVID-19?", [25, 131], [6, 31])
q("fr", "footnote", "Où trouver le manuel des Nations Unies sur la prévention des violences sexuelles liées aux conflits ?", [45], [11])
# English
q("en", "crosslingual", "Which countries did the High Commissioner visit during the period?", [2])
q("en", "crosslingual", "Who started as Deputy High Commissioner in early 2020?", [4])
q("en", "crosslingual", "What did the Secretary-General launch at the Human Rights Council on 24 February?", [5])
q("en", "crosslingual", "Where did a treaty body meet at the regional level for the first time?", [7])
q("en", "crosslingual", "What did the Human Rights Council's urgent debate on 17 June address?", [10])
q("en", "crosslingual", "What did OHCHR do about the right to development?", [27, 28, 29])
q("en", "crosslingual", "How did OHCHR respond to the rise in sexual and gender-based violence during the pandemic?", [57, 55])
q("en", "crosslingual", "What was done to get prisoners released to stop COVID-19 spreading?", [98])
q("en", "crosslingual", "What training did staff receive after cyberattacks increased?", [119])
q("en", "crosslingual", "What happened with the death penalty in Chad?", [90])
q("en", "crosslingual", "How did OHCHR help people with albinism?", [86])
q("en", "crosslingual", "What guidance notes did OHCHR publish on COVID-19?", [128])
q("en", "crosslingual", "Tell me about the human rights master's programme in Madagascar.", [112])
q("en", "crosslingual", "What did the High Commissioner brief the Security Council on in February 2020?", [87])
q("en", "crosslingual", "How many technology companies did OHCHR consult bilaterally?", [117])
# French
q("fr", "crosslingual", "Combien de présences sur le terrain le Haut-Commissariat avait-il au 30 juin 2020 ?", [2])
q("fr", "crosslingual", "Quel soutien le HCDH a-t-il apporté aux organes conventionnels pendant la pandémie ?", [6])
q("fr", "crosslingual", "Qu'a fait le Haut-Commissariat pour les personnes âgées ?", [85])
q("fr", "crosslingual", "Comment les défenseurs des droits de l'homme ont-ils été protégés au Burkina Faso ?", [106])
q("fr", "crosslingual", "Que dit le rapport sur la peine de mort ?", [90])
q("fr", "crosslingual", "Comment le HCDH a-t-il aidé les migrants souhaitant rentrer volontairement dans leur pays d'origine ?", [67])
q("fr", "crosslingual", "Qu'a fait le Haut-Commissariat concernant l'intelligence artificielle et la vie privée ?", [114])
q("fr", "crosslingual", "Quel pays a ratifié la Convention relative aux droits des personnes handicapées après le plaidoyer du HCDH ?", [78])
q("fr", "crosslingual", "Selon la conclusion, pourquoi l'impact de la COVID-19 a-t-il été multiplié ?", [134])
# Spanish
q("es", "crosslingual", "¿Cuántas presencias sobre el terreno tenía la Oficina?", [2])
q("es", "crosslingual", "¿Qué hizo la Oficina sobre la pena de muerte?", [90])
q("es", "crosslingual", "¿Cómo apoyó la Oficina a los pueblos indígenas frente a la COVID-19?", [68])
q("es", "crosslingual", "¿Qué hizo la Oficina en materia de justicia de transición en Gambia?", [89])
q("es", "crosslingual", "¿Qué pidió la Oficina para los migrantes en centros de detención?", [67])
q("es", "crosslingual", "¿Qué capacitación en ciberseguridad recibió el personal?", [119])
q("es", "crosslingual", "¿Qué se hizo por los derechos de las mujeres y las niñas durante la pandemia?", [73])
q("es", "crosslingual", "¿Qué dijo la Alta Comisionada sobre la lucha contra el terrorismo y la COVID-19?", [92])
q("es", "crosslingual", "¿Qué es el marco de cumplimiento de la Fuerza Conjunta del G5 Sahel?", [49])
# Multi-paragraph
q("en", "multi", "What did OHCHR do on COVID-19 and people deprived of liberty?", [83, 96, 98])
q("zh", "multi", "报告中哪些段落提到萨摩亚？", [7, 71, 102])
q("zh", "multi", "人权高专办在保护人权维护者方面做了哪些工作？", [106, 108])
q("fr", "multi", "Quelles activités le Haut-Commissariat a-t-il menées sur les entreprises et les droits de l'homme ?", [36, 37, 38, 39])
q("es", "multi", "¿Qué hizo la Oficina sobre el cambio climático y el medio ambiente?", [40, 41, 42])
# Unanswerable
q("zh", "unanswerable", "人权高专办 2020 年的年度预算是多少美元？", [])
q("zh", "unanswerable", "新冠疫苗在哪些国家获批上市？", [])
q("zh", "unanswerable", "联合国秘书长的任期何时结束？", [])
q("en", "unanswerable", "What is the capital of Australia?", [])
q("en", "unanswerable", "How many staff members does OHCHR employ in New York?", [])
q("en", "unanswerable", "What did the report say about the 2022 World Cup in Qatar?", [])
q("en", "unanswerable", "Recipe for chocolate cake", [])
q("fr", "unanswerable", "Quel est le prix du pain à Paris ?", [])
q("fr", "unanswerable", "Combien de sièges permanents compte le Conseil de sécurité ?", [])
q("es", "unanswerable", "¿Quién ganó las elecciones presidenciales de Estados Unidos en 2020?", [])
# Follow-ups: an elliptical question after earlier turns, with the standalone rewrite to compare
q("zh", "followup", "那墨西哥呢？", [98], history=["人权高专办在监狱问题上做了什么？"],
  standalone="人权高专办在墨西哥的监狱问题上做了什么？")
q("en", "followup", "What about Mexico?", [38], history=["What did OHCHR do on business and human rights?"],
  standalone="What did OHCHR do on business and human rights in Mexico?")
q("zh", "followup", "冈比亚呢？", [89], history=["人权高专办在过渡期正义方面做了什么？"],
  standalone="人权高专办在冈比亚的过渡期正义方面做了什么？")
q("fr", "followup", "Et à Sainte-Lucie ?", [78], history=["Quel soutien le HCDH a-t-il apporté aux personnes handicapées ?"],
  standalone="Quel soutien le HCDH a-t-il apporté aux personnes handicapées à Sainte-Lucie ?")
q("zh", "followup", "哪些国家？", [38], history=["人权高专办扩大了工商企业与人权方面的技术援助和宣传"],
  standalone="人权高专办在哪些国家扩大了工商企业与人权方面的技术援助和宣传？")
q("en", "followup", "And the trust fund?", [12], history=["How did OHCHR support the Human Rights Council during the adjournment?"],
  standalone="How did the trust fund help representatives take part in the Human Rights Council?")
q("es", "followup", "¿Y en Chad?", [90], history=["¿Qué hizo la Oficina sobre la pena de muerte?"],
  standalone="¿Qué hizo la Oficina sobre la pena de muerte en Chad?")
q("zh", "followup", "那在疫情期间呢？", [79], history=["人权高专办如何保护残疾人？"],
  standalone="疫情期间人权高专办如何保护残疾人？")

if __name__ == "__main__":
    out = Path(__file__).with_name("questions.jsonl")
    out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in Q), encoding="utf-8")
    print(f"wrote {len(Q)} questions to {out}")
